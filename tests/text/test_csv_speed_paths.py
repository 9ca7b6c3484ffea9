"""The CSV-speed paths of the text pipeline (issue 15: 801 classes at thousands of cases a second) give
exactly the numbers and text of the plain ones: row blocks, the expert read in ``prepare``, vectorised
conformal-set text, the can't-miss floor shortcut, and the scored-CSV writer's probability runs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax, logsumexp, softmax

from medviz.text.rowwise import by_row_blocks
from tests.text.test_recalibrate import expert_bundle  # noqa: F401 (fixture: a tiny bundle with an expert)


def _wide_probs(n=53, c=41, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(c, 0.1), n)


def test_row_blocks_are_bit_for_bit_the_whole_array():
    rng = np.random.default_rng(1)
    x = rng.normal(-300, 80, (53, 41))
    for fn in (lambda a: softmax(a, axis=1), lambda a: log_softmax(a, axis=1), lambda a: logsumexp(a, axis=1)):
        assert np.array_equal(by_row_blocks(fn, x, rows=7), fn(x))
    assert by_row_blocks(lambda a: softmax(a, axis=1), x[:0], rows=7).shape == (0, 41)


def test_combine_and_energy_equal_scipy_over_the_whole_batch():
    from medviz.text.ood import energy_score
    from medviz.text.synth.bayes import combine
    from medviz.text.rowwise import ROWS

    rng = np.random.default_rng(2)
    n = ROWS * 2 + 3  # three blocks, the last one short
    net = _wide_probs(n, 41).astype(np.float32)
    bayes_log = rng.normal(-400, 120, (n, 41))
    whole = softmax((np.log(np.maximum(net, 1e-12)) + 0.25 * log_softmax(bayes_log, axis=1)) / 1.08, axis=1)
    got = combine(net, bayes_log, 0.25, 1.08)
    assert np.allclose(got, whole, rtol=1e-12, atol=1e-15)  # the expert's per-row log-normaliser cancels
    assert np.array_equal(np.round(got, 6), np.round(whole, 6))  # the written 6 decimals do not move
    assert not np.allclose(combine(net, bayes_log, 0.5, 1.08), whole, atol=1e-6)  # the weight still counts
    logits = rng.normal(0, 5, (n, 41)).astype(np.float32)
    assert np.array_equal(energy_score(logits), -logsumexp(logits.astype(float), axis=1))


def _batch(probs, member, errors):
    from medviz.text.analyse import Prepared, TextBatch

    n, c = probs.shape
    prepared = Prepared(texts=["t"] * n, errors=errors, preprocessed=[None] * n, cut_chars=np.zeros(n, dtype=np.int64))
    z = np.zeros(n)
    return TextBatch(labels=tuple(f"L{j}" for j in range(c)), prepared=prepared, model_texts=[""] * n,
                     probabilities=probs, member=member, top=probs.argmax(1), out_of_scope=z.astype(bool),
                     out_of_scope_score=z, low_confidence=z.astype(bool), unknown_share=z, n_words=z, windows=z,
                     words_not_read=z, warnings=[()] * n, coverage=0.9, out_of_scope_threshold=None, has_detector=False)


def test_prediction_set_text_equals_each_row_ranked_and_joined():
    from medviz.text.analyse import EMPTY

    probs = _wide_probs()
    probs[4, :3] = [0.2, 0.2, 0.2]  # ties keep label order
    member = probs >= 0.02
    member[7] = False  # an empty set
    member[8] = False
    member[8, 5] = True  # a one-label set
    errors = [None] * len(probs)
    errors[9] = EMPTY  # an error row: no set
    b = _batch(probs, member, errors)
    texts = b.prediction_set_texts()
    assert texts[7] == "" and texts[8] == "L5" and texts[9] == ""
    for i in range(len(probs)):
        if i != 9:
            assert texts[i] == "|".join(b.prediction_set(i))
    assert "L0|L1|L2" in texts[4]


@pytest.mark.parametrize("floor", [0.0, 0.01, 0.05])
def test_cant_miss_floor_shortcut_equals_the_single_case_rule(floor):
    from medviz.text.cant_miss import CantMissRule, cant_miss, cant_miss_column

    labels = [f"c{j}" for j in range(41)]
    rule = CantMissRule(top_k=5, min_probability=0.08, top_k_floor=floor,
                        conditions=tuple((f"C{j}", "danger", "source") for j in (0, 3, 17, 40)))
    probs = _wide_probs(200, 41, seed=3)
    probs[11] = np.nan
    col = cant_miss_column(labels, probs, rule)
    assert col[11] == ""
    for i in range(len(probs)):
        if i != 11:
            hits = sorted(cant_miss(labels, probs[i], rule), key=lambda h: -h.probability)
            assert col[i] == "|".join(h.text() for h in hits)
    assert any(col) and not all(col)


def test_probability_runs_render_like_pandas():
    """Runs of 6-decimal columns split by a text column and by an off-grid float column, NaN rows, and a
    run of one column: the same text as pandas writes."""
    from medviz.scoring.render import render_csv

    n = 37
    probs = np.round(_wide_probs(n, 30, seed=4), 6)
    df = pd.DataFrame(probs, columns=[f"prob_{j}" for j in range(30)])
    df.iloc[2] = np.nan
    df.iloc[6, :4] = [1.0, 0.0, 1e-06, 5e-05]
    df.insert(0, "id", np.arange(n))
    df.insert(11, "note", [f'a, "b" {i}' if i % 4 else f"plain {i}" for i in range(n)])
    df.insert(20, "score", np.random.default_rng(5).normal(-9, 3, n))  # off the grid: splits the run
    df.insert(22, "set", ["x|y"] * n)  # leaves prob_19 as a run of one column
    df["tail"] = np.round(np.random.default_rng(6).random(n), 6)  # the last column is a grid run of one
    assert render_csv(df).decode() == df.to_csv(index=False, header=False)


def test_expert_read_in_prepare_gives_the_same_numbers(expert_bundle):  # noqa: F811
    from medviz.bundle import load_bundle
    from medviz.text.analyse import analyse_prepared, analyse_texts, prepare
    from medviz.text.predict import TextPredictor
    from medviz.text.safety import SafetyConfig
    from medviz.text.synth.bayes import expert_for

    path, _ = expert_bundle
    bundle = load_bundle(path)
    pred = TextPredictor.from_bundle(bundle)
    cfg = SafetyConfig.from_manifest(bundle.manifest)
    texts = ["fever and cough for 3 days", "", "A 30-year-old woman with a headache and vomiting", "???",
             "fever and cough for 3 days", "67M pyrexia, no cough"]
    with_reading = prepare(cfg, texts, bundle=bundle)
    ok = [t for t, e in zip(with_reading.texts, with_reading.errors) if e is None]
    assert np.array_equal(with_reading.expert_log, expert_for(bundle)[0].log_scores(ok))
    without = prepare(cfg, texts)
    assert without.expert_log is None
    a = analyse_prepared(pred, with_reading, cfg=cfg)
    b = analyse_prepared(pred, without, cfg=cfg)
    assert np.array_equal(a.probabilities, b.probabilities, equal_nan=True)
    assert a.prediction_set_texts() == b.prediction_set_texts()
    assert np.array_equal(analyse_texts(pred, texts).probabilities, a.probabilities, equal_nan=True)


def test_a_denied_not_evidence_bundle_gives_the_same_numbers_on_every_path(expert_bundle, tmp_path):  # noqa: F811
    """A denied finding is not evidence (manifest knowledge_base_expert.denied_not_evidence): the network reads the
    text without it on every path (expert read in prepare or in analyse_prepared, one case), and the expert gives
    it no likelihood; a note's denied finding leaves the numbers of the note without it."""
    import shutil

    from medviz.bundle import load_bundle
    from medviz.text.analyse import analyse_case, analyse_prepared, analyse_texts, prepare
    from medviz.text.predict import TextPredictor
    from medviz.text.recalibrate import set_denied_not_evidence
    from medviz.text.safety import SafetyConfig
    from medviz.text.synth.bayes import expert_for

    path = tmp_path / "b"
    shutil.copytree(expert_bundle[0], path)
    set_denied_not_evidence(path, True)
    bundle = load_bundle(path)
    pred = TextPredictor.from_bundle(bundle)
    cfg = SafetyConfig.from_manifest(bundle.manifest)
    texts = ["fever and cough for 3 days", "Cough: no. Fever for 3 days", "denies headache or vomiting. fever",
             "fever for 3 days", "", "30F headache, vomiting"]
    a = analyse_prepared(pred, prepare(cfg, texts, bundle=bundle), cfg=cfg)
    b = analyse_prepared(pred, prepare(cfg, texts), cfg=cfg)
    assert np.array_equal(a.probabilities, b.probabilities, equal_nan=True) and a.model_texts == b.model_texts
    assert np.array_equal(analyse_texts(pred, texts).probabilities, a.probabilities, equal_nan=True)
    assert a.model_texts[1] == ". fever for 3 days" and a.model_texts[2] == ". fever" and a.model_texts[0] == texts[0]
    one = analyse_case(pred, "Cough: no. Fever for 3 days")
    assert np.allclose(one.probabilities, a.probabilities[1])
    # the denied cough and headache weigh nothing: the notes score like "fever ..." read by the same network
    plain = analyse_texts(pred, [". fever for 3 days", ". fever"]).probabilities
    assert np.allclose(a.probabilities[[1, 2]], plain, atol=1e-12)
    expert = expert_for(bundle)[0]
    assert not np.array_equal(expert.log_scores(texts[1:2]), expert.scores_of(expert.indicators(texts[1:2], False)))
    set_denied_not_evidence(path, False)  # and back: the network reads the whole note again
    off = load_bundle(path)
    assert analyse_texts(TextPredictor.from_bundle(off), texts).model_texts[1] == texts[1]


def test_word_counts_equal_pythons_findall():
    import re

    from medviz.text.analyse import _WORD
    from medviz.text.layers import TOKEN_PATTERN
    from medviz.text.predict import count_matches

    texts = ["fever 38.9 and 胸痛三天 x", "", "a_b-c d", "ÉCOLE école 123abc", "咳嗽，发热 3天", "\ud800 lone surrogate"]
    for pattern in (_WORD, re.compile(TOKEN_PATTERN), re.compile(r"\w+"), re.compile("[a-z]+", re.I)):
        assert count_matches(pattern, texts).tolist() == [len(pattern.findall(t)) for t in texts]
        assert count_matches(pattern, texts[:-1]).tolist() == [len(pattern.findall(t)) for t in texts[:-1]]


# medspaCy imported without NLTK (medviz.text.clinical.assertion.import_medspacy): in a fresh process each way, the
# clinical pipeline's ConText modifiers and the phrase rules' statuses on these notes are the same as with NLTK (and so
# QuickUMLS's whole import chain) imported first.
_NOTES = ["A 70-year-old man has not opened his bowels or passed wind for four days.",
          "Denies breathing slowly. His mother cannot move her legs.",
          "If he cannot move his legs, call 999. No fever, possible pneumonia.",
          "Chest pain: no. Shortness of breath: no. History of asthma; father had a stroke.",
          "A 6-week-old baby is vomiting green bile. fever-, cough +"]
_READ = r"""
import json, sys
if sys.argv[1] == "nltk":
    import nltk  # noqa: F401  (the whole chain, as medspaCy's own import pulls it in)
from medviz.text.clinical.assertion import pipeline
from tests.text.test_kb_reading import RULE_PHRASES, SYN, KnowledgeBaseBayes, _kb

notes = json.loads(sys.argv[2])
nlp = pipeline()
context = [[(e.text, e.label_, sorted(m.category for m in e._.modifiers)) for e in nlp(t).ents] for t in notes]
expert = KnowledgeBaseBayes(_kb(), SYN, RULE_PHRASES)
rules = [expert.findings(t) for t in notes]
loaded = {m: m in sys.modules for m in ("nltk", "scipy.stats")}
import quickumls.core  # QuickUMLS's own nltk: the real package on first use
print(json.dumps({"context": context, "rules": rules, "loaded": loaded, "stopwords": hasattr(quickumls.core.nltk, "corpus")}))
"""


def test_medspacy_without_nltk_reads_like_the_full_import():
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = {way: json.loads(subprocess.run([sys.executable, "-c", _READ, way, json.dumps(_NOTES)], cwd=root, check=True,
                                          capture_output=True, text=True).stdout.strip().splitlines()[-1])
           for way in ("light", "nltk")}
    assert out["light"]["loaded"] == {"nltk": False, "scipy.stats": False}
    assert out["nltk"]["loaded"] == {"nltk": True, "scipy.stats": True}
    assert out["light"]["context"] == out["nltk"]["context"]
    assert any(mods for note in out["light"]["context"] for _, _, mods in note)  # ConText did find modifiers
    assert out["light"]["rules"] == out["nltk"]["rules"]
    assert out["light"]["stopwords"] and out["nltk"]["stopwords"]
