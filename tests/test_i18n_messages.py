"""The library's English warnings and errors reach a Chinese page translated (medviz/ui/messages.py).

Each message is produced by the real library code (not copied here), so a change of wording in the
library that the template list no longer matches fails this test instead of silently showing English.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from medviz import auth
from medviz.i18n import use_language
from medviz.text import analyse
from medviz.ui.messages import _is_cjk, library_message, match, term


def _library_messages() -> list[str]:
    from medviz.text.cant_miss import load_rule
    from medviz.text.clinical import preprocess

    out = [
        analyse.EMPTY.message,
        analyse.UNREADABLE.message,
        analyse.UNREADABLE_ZH.message,
        analyse.OUT_OF_SCOPE_WARNING,
        analyse._low_confidence_text(0.21, 0),
        analyse._low_confidence_text(0.21, 6),
        analyse._low_confidence_text(0.88, 6),
        analyse.CaseAnalysis.differential_sentence(SimpleNamespace(coverage=0.9, prediction_set=("flu", "migraine"))),
        analyse.CaseAnalysis.differential_sentence(SimpleNamespace(coverage=0.9, prediction_set=())),
        load_rule().wording(),
        "password rejected: " + "; ".join(auth.password_problems("aaaa aaaa", "aaaa")),
    ]
    out += list(preprocess("Fever for two days. Temperature 36.4 C.").warnings)
    out += list(preprocess("No fever. T 38.9 C.").warnings)
    out += [n.message for n in analyse._row_warnings(
        0, [True], [True], [True], [0.75], [2], [0], [1],
        SimpleNamespace(cut_chars=[0], preprocessed=[None]), 0.3, 0, SimpleNamespace(seq_len=64))]
    out += [n.message for n in analyse._row_warnings(  # present findings in words the expert does not know
        0, [False], [False], [False], [0.1], [9], [0], [1], SimpleNamespace(cut_chars=[0], preprocessed=[None]), 0.3, 2,
        SimpleNamespace(seq_len=64), False, ("testicular", "ache"))]
    out += [n.message for n in analyse._row_warnings(  # every finding denied
        0, [False], [False], [False], [0.1], [9], [0], [1], SimpleNamespace(cut_chars=[0], preprocessed=[None]), 0.3, 2,
        SimpleNamespace(seq_len=64), True)]
    return out


def test_every_library_message_has_a_template():
    messages = _library_messages()
    assert len(messages) >= 14  # the contradiction warnings and the row warnings were produced
    unmatched = [m for m in messages if match(m) is None and "; " not in m]
    assert not unmatched, f"library messages with no template in medviz/ui/messages.py: {unmatched}"


def test_library_messages_are_shown_in_chinese():
    with use_language("zh_CN"):
        for m in _library_messages():
            shown = library_message(m)
            assert _is_cjk(shown), (m, shown)
            assert shown != m


def test_values_are_kept_and_unknown_messages_stay_as_written():
    sentence = analyse.CaseAnalysis.differential_sentence(SimpleNamespace(coverage=0.9, prediction_set=("flu", "<b>x")))
    with use_language("zh_CN"):
        shown = library_message(sentence)
        assert "flu, <b>x" in shown and "90%" in shown  # diagnosis names (bundle data) are not translated
        assert library_message("a message from nowhere") == "a message from nowhere"
        assert term("high") == "高" and term("clinician") == "临床医生" and term("whatever") == "whatever"
    assert library_message(sentence) == sentence  # English: unchanged


@pytest.mark.parametrize("password", ["short", "aaaaaaaaaaaaaaaa"])
def test_password_errors_translated(password):
    with use_language("zh_CN"):
        shown = library_message("password rejected: " + "; ".join(auth.password_problems(password, "someone")))
    assert shown.startswith("密码未被接受：")


# ---- zxcvbn's password feedback (issue 14 review, item 2) ------------------------------------------------

def _zxcvbn_feedback_strings() -> set[str]:
    """Every sentence zxcvbn's feedback module can emit: the literals it wraps in its own ``_()``, read from
    the installed library's source at test time (zxcvbn ships no catalogue: they would show in English)."""
    import ast
    import inspect

    import zxcvbn.feedback

    tree = ast.parse(inspect.getsource(zxcvbn.feedback))
    found = {n.args[0].value for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_"
             and n.args and isinstance(n.args[0], ast.Constant)}
    assert len(found) >= 20  # the module was read (zxcvbn 4.5 has 27)
    return found


def test_every_zxcvbn_feedback_sentence_has_a_translation():
    from medviz.i18n import _
    from medviz.ui.messages import ZXCVBN_FEEDBACK

    missing = _zxcvbn_feedback_strings() - set(ZXCVBN_FEEDBACK)
    assert not missing, f"zxcvbn feedback with no entry in medviz/ui/messages.py ZXCVBN_FEEDBACK: {sorted(missing)}"
    with use_language("zh_CN"):
        untranslated = [s for s in ZXCVBN_FEEDBACK if not _is_cjk(_(s))]
    assert not untranslated, untranslated


@pytest.mark.parametrize("password", ["aaaaaaaaaaaaaaaa", "Password12345678", "qwertyuiopasdfgh", "abcdefghijklmnop"])
def test_zxcvbn_advice_reaches_a_chinese_page_translated(password):
    problems = auth.password_problems(password, "someone")
    message = "password rejected: " + "; ".join(problems)
    assert "too easy to guess" in message and "needed: " in message  # zxcvbn's own advice is in it
    with use_language("zh_CN"):
        shown = library_message(message)
    leftover = [s for s in _zxcvbn_feedback_strings() if s in shown]
    assert not leftover and shown.startswith("密码未被接受："), shown
    assert not re.search(r"[A-Za-z]{4,}", shown), shown  # no English sentence left


# ---- tabular validation (medviz.schema) (item 3) ---------------------------------------------------------

def _schema_messages() -> list[str]:
    import pandas as pd

    from medviz.schema import FeatureSpec, check_columns, validate_frame

    specs = [FeatureSpec("glu", "Glucose", unit="mg/dL", min=0, max=1000, p01=60, p99=250, median=110),
             FeatureSpec("preg", "Pregnancies", type="integer", min=0, max=30, p01=0, p99=12, median=2),
             FeatureSpec("bmi", "BMI", min=5, max=100, p01=18, p99=50, median=31)]
    frame = pd.DataFrame({"glu": ["high", "inf", "2000", "40", "300", ""],
                          "preg": ["1.5", "3", "", "3", "2", ""],
                          "bmi": ["30", "30", "", "30", "30", ""]}, dtype="string")
    v = validate_frame(frame, specs)
    out = [m for m in list(v.error) + list(v.warnings) if m]
    for columns in (["glu", "preg"], ["Glu ", "preg", "bmi"]):
        try:
            check_columns(columns, specs)
        except Exception as exc:  # SchemaError: the missing-column message with its hint
            out.append(str(exc))
    return out


def test_schema_messages_are_shown_in_chinese_with_the_values_kept():
    messages = _schema_messages()
    assert len(messages) >= 8
    with use_language("zh_CN"):
        for m in messages:
            shown = library_message(m)
            assert _is_cjk(shown) and shown != m, (m, shown)
            for english in ("is not a number", "is impossible", "is not a whole number", "blank, imputed",
                            "training range", "features are blank", "missing required", "none named", "looks like"):
                assert english not in shown, (m, shown)
        shown = library_message("glu: 'high' is not a number; preg: 1.5 is not a whole number (expected a count)")
        assert shown == "glu：'high' 不是数字；preg：1.5 不是整数（应为计数）"
    assert library_message(messages[0]) == messages[0]  # English (and the CLI, the scored CSV) unchanged


# ---- evaluation texts, file-reading notes, upload limits (items 1 and 4) -------------------------------

def _evaluation_messages() -> list:
    import numpy as np

    from medviz import metrics as M
    from medviz.evaluation import results, shift, subgroups
    from medviz.evaluation.context import _diagnosis_sentence

    out = [results.INTERNAL, results.EXTERNAL, shift._psi_verdict(0.5), shift._psi_verdict(0.15),
           shift._psi_verdict(0.01), M.calibration_intercept_slope([1, 1, 1], [0.2, 0.5, 0.7]).note,
           M.calibration_intercept_slope([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]).note,
           subgroups._binary_group_row("g", np.array([0, 1, 0]), np.array([0.2, 0.6, 0.3]), 0.5, 20, 0)["flag"],
           subgroups._multiclass_group_row("g", np.array([0, 1]), np.array([[0.7, 0.3], [0.4, 0.6]]), 20, 0)["flag"],
           _diagnosis_sentence({"label": "flu", "support": 0}),
           _diagnosis_sentence({"label": "flu", "support": 5, "n_test": 40, "sensitivity": 0.8, "sensitivity_lo": 0.4,
                                "sensitivity_hi": 0.95, "ppv": 0.5, "predicted": 8, "ppv_lo": 0.2, "ppv_hi": 0.8})]
    return out


def _file_notes() -> list:
    from medviz.io import UPLOAD_LIMITS, ReadInfo, ReadLimits

    info = ReadInfo(encoding="UTF-16 LE", delimiter=";", sep_line=True, fallback_line=7, decimal_comma={"a": 3},
                    skipped_blank=2, columns=["a", "b"])
    return [*info.notes(), *ReadInfo(delimiter="\t").notes(), UPLOAD_LIMITS.describe(), ReadLimits(None, None, None, None).describe()]


@pytest.mark.parametrize("produce", [_evaluation_messages, _file_notes])
def test_library_sentences_are_messages_shown_in_chinese(produce):
    """The library builds them as medviz.i18n.Message (English text, translated when a page shows it): a
    sentence written back as a plain f-string in medviz/evaluation or medviz/io fails here."""
    from medviz.i18n import Message, MessageList, translate

    produced = produce()
    assert all(isinstance(m, (Message, MessageList)) for m in produced), [type(m).__name__ for m in produced]
    with use_language("zh_CN"):
        for m in produced:
            shown = translate(m)
            assert _is_cjk(shown) and shown != m, (m, shown)
    assert [translate(m) for m in produced] == [str(m) for m in produced]  # English: as the CLI prints it


def test_a_shift_verdict_keeps_feature_names_and_pickles():
    import pickle

    from medviz.i18n import Message, N_, translate

    verdict = Message(N_("Moderate differences in: {features}; the rest is similar."), features="age, <b>bmi")
    again = pickle.loads(pickle.dumps(verdict))  # st.cache_data pickles evaluation results
    assert again == verdict and again.template == verdict.template
    with use_language("zh_CN"):
        assert translate(again) == "以下方面存在中度差异：age, <b>bmi；其余相似。"


def test_pages_escape_and_translate_messages_in_one_step():
    """plain() / esc() (every page's way of showing library or file text) translate a Message."""
    from medviz.evaluation.shift import _psi_verdict
    from medviz.ui.common import esc, plain

    verdict = _psi_verdict(0.5)
    with use_language("zh_CN"):
        assert plain(verdict) == "重大偏移" and esc(verdict) == "重大偏移"
    assert plain(verdict) == "major shift"


@pytest.mark.parametrize("top, shown", [(0.003, "<1%"), (0.0, "0%"), (0.0099, "<1%"), (0.01, "1%"), (0.5, "50%")])
def test_low_confidence_banner_never_rounds_a_probability_to_0_percent(top, shown):
    """Seen on a note whose findings were all denied: "the top diagnosis has 0% probability" for 0.3 %."""
    notices = list(analyse._row_warnings(  # every finding denied, the top diagnosis at ``top``
        0, [False], [True], [False], [0.1], [9], [0], [1], SimpleNamespace(cut_chars=[0], preprocessed=[None]), top, 0,
        SimpleNamespace(seq_len=64), True))
    (banner,) = [n.message for n in notices if n.code == "low confidence"]
    assert banner.startswith(f"Low confidence: the top diagnosis has {shown} probability and an empty conformal set")
    with use_language("zh_CN"):
        zh = library_message(banner)
    assert _is_cjk(zh) and sorted(re.findall(r"<?\d+%", zh)) == sorted([shown, "50%"])  # the value, the rule's cut-off


def test_low_confidence_with_a_probable_top_diagnosis_says_the_set_is_wide():
    """"the top diagnosis has 88% probability and a conformal set of 6" read to a newcomer as a contradiction (session
    13): a wide set behind a probable top diagnosis says that several diagnoses are still plausible."""
    wide = analyse._low_confidence_text(0.88, 6)
    assert wide.startswith("Low confidence: 6 diagnoses are still plausible (the conformal set), although the top one "
                           "has 88% probability")
    assert analyse._low_confidence_text(0.3, 6).startswith("Low confidence: the top diagnosis has 30% probability")
    with use_language("zh_CN"):
        zh = library_message(wide)
    assert _is_cjk(zh) and "6" in zh and "88%" in zh
