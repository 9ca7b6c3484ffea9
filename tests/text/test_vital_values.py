"""Values the expert and the red flags read from a note (medviz.text.synth.bayes.vital_findings): commas in numbers,
and values that are a condition or a target rather than the patient's (session 14)."""
from __future__ import annotations

import pytest

from medviz.text.synth import bayes


def findings(text: str) -> list[str]:
    return bayes.vital_findings(bayes.normalise(text))


@pytest.mark.parametrize("text, expected", [
    # a comma followed by three digits is a thousands separator, by one or two a decimal comma
    ("creatinine 1,200 umol/L", ["raised creatinine", bayes.CREATININE_KDIGO_3]),
    ("T 37,9 HR 88", []),
    ("T 38,5 HR 110", ["fever", "tachycardia"]),
    ("K 6,1", ["hyperkalaemia"]),
    ("glucose 3,6", ["hypoglycaemia"]),
    ("creatinine 1,5 mg/dl", ["raised creatinine"]),
    # a comma after a value still ends it
    ("creat 560, k 5.4", ["raised creatinine", bayes.CREATININE_KDIGO_3]),
    ("BP 85/50, HR 120, T 39.1", ["hypotension", "tachycardia", "fever"]),
    ("t 39.2, sats 88% ra", ["fever", "hypoxia"]),
    # a condition or a target is not an observation
    ("Return if creatinine 400 or more", []),
    ("If temperature 38 or above, call 111", []),
    ("safety net: call if temp 38.5", []),
    ("target sats 88-92% on air", []),
    ("aim for SpO2 of 88-92%", []),
    ("sats 86% RA, target sats 88-92", ["hypoxia"]),  # the measured value still counts
    ("paracetamol if needed, T 39", ["fever"]),  # the conditional clause ends at its comma
    ("if you could see this man urgently, HR 130", ["tachycardia"]),  # a letter's "if you could" is no condition
    ("T 39.4; return if HR over 130", ["fever"]),
])
def test_vital_values(text, expected):
    assert findings(text) == expected


def test_the_expert_reads_a_target_as_no_finding():
    from pathlib import Path

    from medviz.text.synth.bayes import KnowledgeBaseBayes

    kb = KnowledgeBaseBayes.from_json((Path(__file__).resolve().parents[2] / "models" / "differential-801"
                                       / "knowledge_base_expert.json").read_bytes())
    hypoxia = kb.phrase_col["hypoxia"]
    assert hypoxia in kb.read("COPD, sats 84% on air").present
    assert hypoxia not in kb.read("COPD, on 2L, target sats 88-92%").present


@pytest.mark.parametrize("text, expected", [
    # a creatinine read with its unit (session 14): µmol/L under 25 is no value (it was read as mg/dL), a point before
    # three digits in µmol/L is a thousands point, mg/dL of 25 or more is none
    ("Creatinine 2 umol/L", []),
    ("creatinine 1.200 umol/L", ["raised creatinine", bayes.CREATININE_KDIGO_3]),
    ("creatinine 130umol/L", ["raised creatinine"]),
    ("Creatinine 88 µmol/L", []),
    ("creatinine 2.5 mg/dL", ["raised creatinine"]),
    ("creatinine 354 mg/dl", []),
    ("creatinine 4.5", ["raised creatinine", bayes.CREATININE_KDIGO_3]),  # no unit: under 25 is mg/dL, as before
])
def test_creatinine_with_its_unit(text, expected):
    assert findings(text) == expected
