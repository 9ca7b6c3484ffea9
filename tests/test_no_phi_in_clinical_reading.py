"""Canary test (CLINICAL.md S4) for the clinical reading path: spaCy, medspaCy (ConText, TargetMatcher)
and PyRuSH (imported by medspaCy; it logs note text through loguru at DEBUG) must not log a note."""
from __future__ import annotations

import logging

from tests.test_no_phi_in_logs import CANARIES, _assert_clean, _Collect

NOTE = (f"{CANARIES[0]} (MRN {CANARIES[1]}), DOB {CANARIES[2]}: denies fever, ?pneumonia, mother has asthma. "
        f"SpO2 88% on air, T 36.1. fever-, cough+. Call {CANARIES[3]}. Sat 14, MS")


def test_clinical_reading_logs_no_note_text(capfd):
    from loguru import logger

    handler = _Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger()] + [logging.getLogger(n) for n in ("spacy", "medspacy", "PyRuSH")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    loguru_lines: list[str] = []
    sink = logger.add(lambda m: loguru_lines.append(str(m)), level="TRACE")
    try:
        from medviz.text.clinical import preprocess, preprocess_all, preprocess_many
        from medviz.text.clinical.assertion import pipeline

        pipeline.cache_clear()  # build the pipeline (and import medspaCy/PyRuSH) inside the capture
        pre = preprocess(NOTE)
        preprocess_many([NOTE, NOTE.upper()])
        preprocess_all([NOTE])
        logging.getLogger("medviz.canary_check").debug("handler attached")
    finally:
        logger.remove(sink)
        for lg, level in saved:
            lg.removeHandler(handler)
            lg.setLevel(level)
    assert pre.findings and pre.vitals  # the note was really read
    assert any("handler attached" in line for line in handler.lines)
    _assert_clean("\n".join(handler.lines), "the logs")
    _assert_clean("\n".join(loguru_lines), "loguru's output")
    out, err = capfd.readouterr()
    _assert_clean(out + err, "stdout/stderr")
    for w in pre.warnings:  # warnings reach the audit log: numbers only
        _assert_clean(w, "a warning")
