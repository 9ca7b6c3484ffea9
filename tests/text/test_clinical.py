"""Clinician-register normalisation and negation/hedging scope rules, on sentences written for the tests."""
from __future__ import annotations

import numpy as np
import pytest

from medviz.text.clinical import normalise, preprocess, telegraphic


def meanings(text: str) -> dict[str, str]:
    return {t.text.lower(): t.meaning for t in normalise(text)[1]}


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("SOB", "shortness of breath"),
        ("dyspnoea", "shortness of breath"),
        ("dyspnea", "shortness of breath"),
        ("pyrexia", "fever"),
        ("N/V", "nausea and vomiting"),
        ("n+v", "nausea and vomiting"),
        ("diarrhoea", "diarrhea"),
        ("pruritic", "itchy"),
        ("dysuria", "burning pain when urinating"),
        ("polydipsia", "excessive thirst"),
        ("arthralgia", "joint pain"),
        ("photophobia", "sensitivity to light"),
        ("haematuria", "blood in urine"),
        ("rhinorrhoea", "runny nose"),
        ("c/o", "complains of"),
        ("HTN", "high blood pressure"),
        ("icterus", "yellow skin and eyes"),
    ],
)
def test_curated_terms(typed, expected):
    text, terms = normalise(f"patient with {typed} today")
    assert expected in text
    assert [t.meaning for t in terms if t.text.lower() == typed.lower()] == [expected]


def test_demographics_and_durations():
    m = meanings("58M, 3/7 cough, 2/52 rash, 24F, 70 year old female")
    assert m["58m"] == "58 year old man"
    assert m["3/7"] == "for 3 days"
    assert m["2/52"] == "for 2 weeks"
    assert m["24f"] == "24 year old woman"


@pytest.mark.parametrize("text", ["walk 50 m then short of breath", "ran 5 m", "knee cap pain", "Sat 14 seen in clinic",
                                  "took 2 m of the tablets"])
def test_ambiguous_short_forms_are_not_rewritten(text):
    pre = preprocess(text)
    assert "year old" not in pre.model_text and "chest infection" not in pre.model_text
    assert "oxygen" not in pre.model_text


def test_vital_signs_become_words_for_the_model_only_when_abnormal():
    pre = preprocess("T 38.9, BP 165/100, HR 112, RR 26, sats 91% on RA")
    for words in ("fever", "high blood pressure", "fast heart rate", "fast breathing", "low oxygen"):
        assert words in pre.model_text
    pre = preprocess("T 36.8, BP 118/76, HR 72")
    assert "fever" not in pre.model_text and "blood pressure" not in pre.model_text and "fast" not in pre.model_text
    assert {t.kind for t in pre.terms} == {"vital sign"} and all(t.meaning == "" for t in pre.terms)


def test_words_inside_other_words_are_left_alone():
    text, terms = normalise("I have a cold and a captain's hat, my abdomen hurts")
    assert text == "I have a cold and a captain's hat, my abdomen hurts"
    assert terms == ()


@pytest.mark.parametrize(
    "sentence, negated, kept",
    [
        ("no fever", ["fever"], []),
        ("denies chest pain", ["chest pain"], []),
        ("negative for rash", ["rash"], []),
        ("cough without vomiting", ["vomiting"], ["cough"]),
        ("I do not have a fever but my joints hurt", ["fever"], ["joints hurt"]),
        ("Denies CP, SOB or palpitations. Has a productive cough.", ["cp", "sob", "palpitations"], ["cough with phlegm"]),
        ("No fever, productive cough for 3 days", ["fever"], ["cough with phlegm"]),
        ("no fever, chills or rash", ["fever", "chills", "rash"], []),
        ("afebrile, wheeze", ["afebrile"], ["wheezing"]),
        ("rash on arms, no itching, however has joint pain", ["itching"], ["rash on arms", "joint pain"]),
    ],
)
def test_negated_findings_are_removed_and_reported(sentence, negated, kept):
    p = preprocess(sentence)
    assert list(p.negated_findings) == negated
    for finding in negated:
        assert finding not in p.model_text.lower().split(), (finding, p.model_text)
    for phrase in kept:
        assert phrase in p.model_text


@pytest.mark.parametrize(
    "sentence",
    [
        "I have no appetite",
        "I have no energy at all",
        "no improvement in the cough",
        "my cuts don't heal",
        "I'm not emptying my bladder completely",
        "weight loss without trying",
    ],
)
def test_negation_that_states_a_finding_is_kept(sentence):
    p = preprocess(sentence)
    assert p.negated == ()
    assert p.model_text == sentence
    assert all(f.status == "present" for f in p.findings)


def test_hedged_diagnoses_are_not_findings():
    p = preprocess("fever and productive cough, ?pneumonia, r/o TB")
    assert set(p.hedged_findings) == {"pneumonia", "tb"}
    assert "pneumonia" not in p.model_text and "TB" not in p.model_text
    assert "fever" in p.model_text


def test_negation_scope_ends_at_sentence():
    p = preprocess("No fever. Severe headache with nausea.")
    assert p.negated_findings == ("fever",)
    assert "Severe headache with nausea" in p.model_text


def test_preprocess_is_deterministic_and_pure():
    text = "34F c/o pruritic erythematous plaques, denies joint pain"
    assert preprocess(text) == preprocess(text)
    assert preprocess(text).original == text


def test_telegraphic_is_seeded_and_drops_first_person():
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    s = "I have been having a high fever and I feel really tired"
    a, b = telegraphic(s, rng1), telegraphic(s, rng2)
    assert a == b
    assert "high fever" in a and "tired" in a
    assert " i " not in f" {a} " and "been" not in a.split()
