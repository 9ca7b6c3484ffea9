"""One text pipeline: a corpus of clinician-style notes (tests/data/clinician_notes.csv) gets the same
probabilities, findings, warnings and errors through every path — single case (Case page), Case
history's "Predict and save", the Batch page's scoring function, ``python -m medviz score`` and
``evaluate`` (external validation). Plus whole notes (overlapping windows) and unreadable text."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medviz.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "clinician_notes.csv"
STATUSES = ("present", "absent", "uncertain")


@pytest.fixture(scope="module")
def bundle(tiny_clinical_bundle):
    from medviz.bundle import load_bundle

    return load_bundle(tiny_clinical_bundle)


@pytest.fixture(scope="module")
def predictor(bundle):
    from medviz.text.predict import TextPredictor

    return TextPredictor.from_bundle(bundle)


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def single(predictor, corpus):
    """Each note through the Case page's function, one at a time: (analysis or None, error message or None)."""
    from medviz.text.analyse import analyse_case

    out = {}
    for nid, note in zip(corpus["id"], corpus["note"]):
        try:
            out[nid] = (analyse_case(predictor, note), None)
        except InputError as exc:
            out[nid] = (None, str(exc))
            REFUSED[nid] = exc
    return out


REFUSED: dict[str, InputError] = {}  # the exception the Case page got, per refused note


def _refused_findings(nid: str, status: str) -> str:
    """What the pages show (and a CSV must list) for a refused note: the findings of a note whose every
    finding was denied (NothingToScoreError carries its reading), nothing for unreadable text."""
    exc = REFUSED[nid]
    return "|".join(exc.findings(status)) if hasattr(exc, "findings") else ""


def _check_rows(frame: pd.DataFrame, single, bundle, *, text_column="note", atol=1e-6):
    """Every row of a scored frame agrees with the single-case result for its note."""
    from medviz.text.analyse import analyse_texts  # noqa: F401  (the pipeline both sides call)

    assert len(frame) > 0
    for _, row in frame.iterrows():
        case, err = single[row["id"]]
        if case is None:
            assert row["error"].startswith(f"{text_column}: "), row["id"]
            assert row["prediction"] == "" and row["prediction_set"] == ""
            if row["id"] == "n21":
                assert row["error"] == f"{text_column}: every finding read as absent or uncertain, nothing left to score"
            for status in STATUSES:  # a refused note keeps its findings (every one denied: all in findings_absent)
                assert row[f"findings_{status}"] == _refused_findings(row["id"], status), (row["id"], status)
            assert row["warnings"] == "", row["id"]
            continue
        assert row["error"] == "", (row["id"], row["error"])
        probs = np.array([float(row[f"prob_{lab}"]) for lab in bundle.labels])
        np.testing.assert_allclose(probs, case.probabilities, atol=atol, err_msg=row["id"])
        assert row["prediction"] == case.ranked[0][0]
        assert row["prediction_set"] == "|".join(case.prediction_set)
        assert row["warnings"] == "; ".join(case.warning_codes), row["id"]
        for status in STATUSES:
            assert row[f"findings_{status}"] == "|".join(case.findings(status)), (row["id"], status)


def test_corpus_covers_errors_warnings_and_findings(single, corpus):
    errors = [nid for nid, (case, err) in single.items() if case is None]
    scored = [case for case, _ in single.values() if case is not None]
    # Chinese only, emoji only, "?", "??? !!!", numbers only, empty, every finding denied
    assert set(errors) == {"n15", "n16", "n17", "n18", "n19", "n20", "n21"}
    assert "English" in single["n19"][1] and "English" in single["n20"][1] and "empty" in single["n18"][1]
    assert "absent" in single["n21"][1]
    # every finding denied: refused, but the reading (all three findings absent) is kept for the pages
    assert REFUSED["n21"].findings("absent") == ("fever", "cough", "rash")
    assert REFUSED["n21"].findings("present") == ()
    assert all(not hasattr(REFUSED[n], "findings") for n in ("n15", "n16", "n17", "n18", "n19", "n20"))
    assert any(c.findings("absent") for c in scored)
    assert any(c.warning_codes for c in scored)
    assert single["n14"][0].truncated is False  # the long note is read whole (windows)


def test_same_outputs_batch_page_function(bundle, predictor, single, corpus):
    from medviz.scoring import make_scorer, score_upload

    data = DATA.read_bytes()
    scorer = make_scorer(bundle, text_column="note", predictor=predictor)
    result = score_upload(bundle, data, text_column="note", scorer=scorer)
    assert len(result.frame) == len(corpus)
    _check_rows(result.frame, single, bundle)
    written = pd.read_csv(io.BytesIO(result.csv), dtype=str, keep_default_na=False)
    _check_rows(written, single, bundle)


def test_same_outputs_cli_score(bundle, single, corpus, tmp_path, capsys):
    from medviz.cli import main

    out = tmp_path / "scored.csv"
    assert main(["score", str(bundle.path), str(DATA), "-o", str(out), "--text-column", "note"]) == 0
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame["id"]) == list(corpus["id"])
    _check_rows(frame, single, bundle)


def test_same_outputs_evaluate(bundle, single, corpus, tmp_path, capsys):
    import json

    from medviz.cli import main
    from medviz.evaluation import evaluate_external

    result = evaluate_external(bundle, corpus, "label", text_column="note", resamples=50)
    _check_rows(result.scored, single, bundle)
    n_errors = sum(case is None for case, _ in single.values())
    assert result.evaluation.cohort.n == len(corpus) - n_errors
    assert sum(result.evaluation.cohort.excluded.values()) == n_errors
    out = tmp_path / "eval.json"
    assert main(["evaluate", str(bundle.path), str(DATA), "--label-column", "label", "--text-column", "note",
                 "--resamples", "50", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["cohort"]["n"] == result.evaluation.cohort.n


def test_same_outputs_case_history_save(tiny_clinical_bundle, single, corpus, tmp_path, monkeypatch, logged_in_app):
    """Case history's "Predict and save" saves what the Case page shows (it used to send the raw text
    to the model, skipping preprocessing and the safety checks)."""
    from medviz.store import cases, get_engine
    from medviz.ui.common import plain

    d = tmp_path / "models"
    d.mkdir()
    shutil.copytree(tiny_clinical_bundle, d / "tiny-clinical")
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(d))
    at = logged_in_app()
    at.switch_page("pages/history.py").run()
    assert not at.exception, at.exception
    for nid, note in zip(corpus["id"], corpus["note"]):
        case, err = single[nid]
        at.text_area(key="history_new_text").set_value(note)
        at.button(key="history_new_save").click().run()
        assert not at.exception, at.exception
        if case is None:
            assert plain(err) in [e.value for e in at.error], nid
            shown = " ".join(m.value for m in at.markdown)
            for phrase in REFUSED[nid].findings("absent") if hasattr(REFUSED[nid], "findings") else ():
                assert f"<li>{plain(phrase)}</li>" in shown, (nid, phrase)  # the denied findings, as on the Case page
            continue
        shown = [w.value for w in at.warning if w.proto.icon == "⚠️"]  # the result's warnings (not page banners)
        assert shown == [plain(w) for w in case.warnings], nid
        saved_id = at.session_state["history_new_result"][0]
        saved = cases.get_case(get_engine(), saved_id, decrypt=True)
        assert saved.content == case.text
        probs = saved.summary.prediction["probabilities"]
        np.testing.assert_allclose([probs[lab] for lab in case.labels], case.probabilities, atol=1e-6, err_msg=nid)


# ---------------------------------------------------------------- whole notes


def test_long_note_is_read_in_windows_and_pooled(predictor):
    from medviz.text.predict import MAX_WINDOWS

    L = predictor.seq_len
    head = "walks with a stick lives alone retired teacher " * 3  # > L words before the complaint
    note = head + "itchy red rash spreading on my legs with blisters"
    pred = predictor.predict([note])
    assert pred.windows[0] >= 2 and pred.words_not_read[0] == 0
    words = note.split()
    assert len(words) > L
    cut = predictor.predict([" ".join(words[:L])]).probabilities[0]
    assert not np.allclose(pred.probabilities[0], cut)  # the end of the note changed the answer
    np.testing.assert_allclose(pred.probabilities.sum(1), 1.0, atol=1e-6)
    assert pred.attention.shape[1] == len(words)
    np.testing.assert_allclose(pred.attention.sum(1), 1.0, atol=1e-5)
    # a batch gives the same row as the single case, whatever its neighbours
    mixed = predictor.predict(["fever and cough", note, "rash"], attention=False)
    np.testing.assert_allclose(mixed.probabilities[1], pred.probabilities[0], atol=1e-6)
    assert mixed.attention is None and list(mixed.windows) == [1, pred.windows[0], 1]
    # beyond MAX_WINDOWS the rest is not read, and said so
    huge = "fever " * (predictor.read_limit + 7)
    p = predictor.predict([huge])
    assert p.windows[0] == MAX_WINDOWS and p.words_not_read[0] == 7


def test_window_pooling_matches_manual_windows(predictor):
    L, step = predictor.seq_len, predictor.stride
    words = [f"w{i}" if i % 5 else "fever" for i in range(L + step + 3)]
    note = " ".join(words)
    starts = [0, step, len(words) - L]
    manual = predictor.predict([" ".join(words[s : s + L]) for s in starts])
    expect = manual.probabilities.max(0)  # per class, the window that makes it most probable
    got = predictor.predict([note])
    np.testing.assert_allclose(got.probabilities[0], expect / expect.sum(), atol=1e-6)
    np.testing.assert_allclose(got.logits[0], manual.logits.mean(0), atol=1e-5)  # out-of-scope reads the mean


def test_cut_note_is_reported_on_the_page_and_in_the_csv(bundle, predictor):
    from medviz.scoring import make_scorer, score_frame
    from medviz.text.analyse import analyse_case

    huge = "fever and cough " * 400
    case = analyse_case(predictor, huge)
    assert case.truncated and any("not read" in c for c in case.warning_codes)
    assert any("not read" in m for m in case.warnings)
    frame = pd.DataFrame({"note": [huge, "fever and cough"]})
    scored = score_frame(make_scorer(bundle, text_column="note", predictor=predictor), frame)
    assert "not read" in scored["warnings"][0] and "not read" not in scored["warnings"][1]


# ---------------------------------------------------------------- bad input on every path

BAD = {
    "empty": "",
    "spaces": "   \n\t ",
    "numbers": "120 80 37.2 98",
    "punctuation": "?!.,;:-- ...",
    "chinese": "病人发烧咳嗽三天",
    "emoji": "🤒🤧😷",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_unreadable_text_is_one_clear_message_everywhere(bundle, predictor, name):
    from medviz.scoring import make_scorer, score_frame
    from medviz.text.analyse import analyse_case

    with pytest.raises(InputError) as exc:
        analyse_case(predictor, BAD[name])
    assert "Traceback" not in str(exc.value)
    frame = pd.DataFrame({"note": [BAD[name], "fever and cough"]})
    scored = score_frame(make_scorer(bundle, text_column="note", predictor=predictor), frame)
    assert scored["error"][0].startswith("note: ") and scored["prediction"][0] == ""
    assert np.isnan(scored["probability"][0])
    assert scored["error"][1] == "" and scored["prediction"][1] in bundle.labels  # the other row is scored


def test_html_mixed_scripts_and_huge_text_are_scored(bundle, predictor):
    from medviz.text.analyse import MAX_CHARS, analyse_case

    html = analyse_case(predictor, "<img src=x onerror=alert(1)> fever and cough <b>chills</b>")
    assert html.ranked
    mixed = analyse_case(predictor, "发烧 fever, кашель cough, chills")
    assert mixed.ranked and mixed.unknown_share < 1
    huge = analyse_case(predictor, "itchy rash " * 10_000)  # 110,000 characters
    assert len(huge.text) == MAX_CHARS and any("characters" in c for c in huge.warning_codes)
