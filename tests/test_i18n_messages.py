"""The library's English warnings and errors reach a Chinese page translated (medviz/ui/messages.py).

Each message is produced by the real library code (not copied here), so a change of wording in the
library that the template list no longer matches fails this test instead of silently showing English.
"""
from __future__ import annotations

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
        analyse.OUT_OF_SCOPE_WARNING,
        analyse._low_confidence_text(0.21, 0),
        analyse._low_confidence_text(0.21, 6),
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
