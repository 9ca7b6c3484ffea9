"""Vital signs: parsed with units, labelled against adult reference ranges, abnormal ones kept as findings."""
from __future__ import annotations

import pytest

from medviz.text.clinical import ABSENT, PRESENT, findings_by_status, parse_vitals, preprocess


def one(text: str):
    got = parse_vitals(text).readings
    assert len(got) == 1, (text, got)
    return got[0]


@pytest.mark.parametrize("text, name, value, unit, status, finding", [
    ("T 39.2", "temperature", 39.2, "°C", "high", "fever"),
    ("temp 36.8C", "temperature", 36.8, "°C", "normal", ""),
    ("Temperature: 101.2F", "temperature", 101.2, "°F", "high", "fever"),
    ("temp 98.6 °F", "temperature", 98.6, "°F", "normal", ""),
    ("temperature of 35.1", "temperature", 35.1, "°C", "low", "low body temperature"),
    ("HR 124", "heart rate", 124, "/min", "high", "tachycardia"),
    ("pulse 48 bpm", "heart rate", 48, "/min", "low", "bradycardia"),
    ("heart rate 76", "heart rate", 76, "/min", "normal", ""),
    ("RR 28", "respiratory rate", 28, "/min", "high", "tachypnoea"),
    ("resp rate 14/min", "respiratory rate", 14, "/min", "normal", ""),
    ("SpO2 88% on air", "oxygen saturation (SpO2)", 88, "%", "low", "low oxygen saturation"),
    ("sats 97% RA", "oxygen saturation (SpO2)", 97, "%", "normal", ""),
    ("o2 sat 91", "oxygen saturation (SpO2)", 91, "%", "low", "low oxygen saturation"),
    ("glucose 14.2 mmol/L", "blood glucose", 14.2, "mmol/L", "high", "hyperglycaemia"),
    ("BM 3.1", "blood glucose", 3.1, "mmol/L", "low", "hypoglycaemia"),
    ("blood sugar 250 mg/dL", "blood glucose", 250, "mg/dL", "high", "hyperglycaemia"),
    ("glucose 95 mg/dl", "blood glucose", 95, "mg/dL", "normal", ""),
])
def test_single_readings(text, name, value, unit, status, finding):
    r = one(text)
    assert (r.name, r.value, r.unit, r.status, r.finding) == (name, value, unit, status, finding)
    assert r.source and (r.low is not None or r.high is not None) and r.reference_range


def test_blood_pressure_is_two_readings():
    sys_, dia = parse_vitals("BP 80/50").readings
    assert (sys_.name, sys_.value, sys_.status, sys_.finding) == ("systolic blood pressure", 80, "low", "hypotension")
    assert (dia.name, dia.value, dia.status) == ("diastolic blood pressure", 50, "low")
    high = parse_vitals("blood pressure 165/100 mmHg").readings
    assert [r.status for r in high] == ["high", "high"] and high[0].finding == "hypertension"
    assert [r.status for r in parse_vitals("BP 124/78").readings] == ["normal", "normal"]


@pytest.mark.parametrize("text", ["Sat 14 seen in clinic", "T 12", "HR 400", "BP 40/90", "glucose 0.2"])
def test_values_a_label_cannot_mean_are_not_read(text):
    got = parse_vitals(text)
    assert got.readings == () and got.not_interpreted


def test_abnormal_vitals_are_present_findings_that_no_negation_reaches():
    pre = preprocess("72M, 2 days productive cough and fever, denies chest pain, SpO2 88% on air, BP 80/50, HR 124, RR 28, T 39.2")
    assert findings_by_status(pre, ABSENT) == ("chest pain",)
    present = findings_by_status(pre, PRESENT)
    for label in ("spo2", "bp", "hr", "rr", "t 39.2", "fever", "cough"):
        assert any(label in p for p in present), (label, present)
    for words in ("low oxygen", "low blood pressure", "fast heart rate", "fast breathing"):
        assert words in pre.model_text
    assert pre.warnings == ()


def test_normal_vitals_are_not_findings_and_a_contradiction_is_warned():
    pre = preprocess("72M, 2 days productive cough and fever, denies chest pain. SpO2 98% on air, BP 124/78, HR 76, RR 14, T 36.8")
    assert findings_by_status(pre, ABSENT) == ("chest pain",)
    assert not any(p.startswith(("spo2", "bp", "hr", "rr", "t ")) for p in findings_by_status(pre, PRESENT))
    assert len(pre.vitals) == 6 and all(v.status == "normal" for v in pre.vitals)
    assert len(pre.warnings) == 1 and "36.8 °C" in pre.warnings[0] and "Fever is reported" in pre.warnings[0]


def test_afebrile_with_a_high_temperature_is_warned():
    pre = preprocess("afebrile, T 39.1, cough")
    assert any("read as absent" in w and "39.1" in w for w in pre.warnings)
    assert preprocess("afebrile, T 36.9").warnings == ()
    assert preprocess("fever, T 38.4").warnings == ()


def test_ambiguous_abbreviations_are_listed_not_interpreted():
    pre = preprocess("MS, PE noted; walk 50 m; Sat 14; knee cap pain")
    listed = " ".join(pre.not_interpreted)
    assert "MS" in listed and "PE" in listed and "Sat 14" in listed
    assert "cap" not in listed  # "knee cap" is a plain word here
    assert "year old" not in pre.model_text and "chest infection" not in pre.model_text
    assert "RA" not in " ".join(preprocess("SpO2 92% RA").not_interpreted)


@pytest.mark.parametrize("text, meaning", [
    ("BS 350 mg/dL, thirsty, polyuria", "high blood sugar"),
    ("FBG 11.2 mmol/L, weight loss", "high blood sugar"),
    ("BSL 2.1 mmol/l, sweaty and confused", "low blood sugar"),
])
def test_glucose_short_forms_with_a_glucose_unit_are_readings(text, meaning):
    pre = preprocess(text)
    assert [v.name for v in pre.vitals] and all("glucose" in v.name.lower() for v in pre.vitals), pre.vitals
    assert meaning in pre.model_text


@pytest.mark.parametrize("text", ["BS normal, abdomen soft", "BS 12", "bowel sounds present, BS x4"])
def test_glucose_short_forms_without_a_unit_are_left_alone(text):
    assert preprocess(text).vitals == ()


@pytest.mark.parametrize("text, readings, not_read", [
    ("T 37,9 HR 88", [("temperature", 37.9), ("heart rate", 88)], ()),  # a decimal comma (read as 37 before)
    ("BM 3,6", [("blood glucose", 3.6)], ()),
    ("target sats 88-92% on air", [], ("sats 88",)),  # a target, not a measurement (was a low SpO2 finding)
    ("SpO2 86% RA, target sats 88-92%", [("oxygen saturation (SpO2)", 86)], ("sats 88",)),
    ("return if temp 38 or above", [], ("temp 38",)),  # a condition
    ("if BP 80/40 call the registrar", [], ("BP 80/40",)),
    ("paracetamol if needed, T 39.1", [("temperature", 39.1)], ()),  # the conditional clause ends at its comma
])
def test_values_that_are_targets_or_conditions_are_not_readings(text, readings, not_read):
    """Session 14: a value the note gives as a target or a condition is left as written and listed as not
    interpreted (the same rule as the 801 expert's reading, medviz.text.synth.bayes.not_observed)."""
    got = parse_vitals(text)
    assert [(r.name, r.value) for r in got.readings] == readings
    assert got.not_interpreted == not_read
