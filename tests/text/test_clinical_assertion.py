"""Assertion status (medspaCy ConText) by class: each class with more notes than the shared cases."""
from __future__ import annotations

import re

import pytest

from medviz.text.clinical import (
    ABSENT, HISTORICAL, OTHER_PERSON, PRESENT, UNCERTAIN, finding_terms, findings_by_status, preprocess,
    preprocess_all, preprocess_many,
)


def status_of(text: str) -> dict[str, str]:
    return {f.phrase: f.status for f in preprocess(text).findings}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def assert_read(text: str, absent=(), present=(), uncertain=(), historical=(), other=()):
    pre = preprocess(text)
    got = {s: findings_by_status(pre, s) for s in (ABSENT, PRESENT, UNCERTAIN, HISTORICAL, OTHER_PERSON)}
    for status, wanted in ((ABSENT, absent), (PRESENT, present), (UNCERTAIN, uncertain), (HISTORICAL, historical),
                           (OTHER_PERSON, other)):
        for w in wanted:
            assert any(w in p for p in got[status]), (text, status, w, got)
    for w in present:  # what is present is never also read as not present
        for status in (ABSENT, UNCERTAIN, HISTORICAL, OTHER_PERSON):
            assert not any(w in p for p in got[status]), (text, status, w, got)
    model = " " + " ".join(words(pre.model_text)) + " "
    kept = [f.phrase for f in pre.findings if f.status == PRESENT]
    for f in pre.findings:  # what is not present is not evidence for the model
        phrase = " ".join(words(f.phrase))
        if f.status != PRESENT and not any(phrase in k for k in kept):
            assert f" {phrase} " not in model, (text, f, pre.model_text)
    return pre


# ------------------------------------------------------------------ negators after the finding
@pytest.mark.parametrize("negator", [": no", ": none", ": nil", ": negative", ": absent", " - denies", " - no", " negative",
                                     " ruled out", " not present", " absent", " was ruled out", " not seen", " -ve",
                                     ": denied", "=no", " - none", " not found"])
def test_negator_after_the_finding(negator):
    assert_read(f"Vomiting{negator}. Headache: yes, sore throat present", absent=["vomiting"],
                present=["headache", "sore throat"])


@pytest.mark.parametrize("text, absent, present", [
    ("Fever: yes, cough: yes, rash: no", ["rash"], ["fever", "cough"]),
    ("rash: no, fever: yes, cough: yes", ["rash"], ["fever", "cough"]),
    ("Cough: present. Wheeze: absent. Chest pain: nil", ["wheeze", "chest pain"], ["cough"]),
    ("Rash absent, high fever and chills present", ["rash"], ["fever", "chills"]),
    ("nausea: none reported, diarrhoea: yes", ["nausea"], ["diarrhoea"]),
    ("Headache\nFever: no\nNeck stiffness: no", ["fever", "neck stiffness"], ["headache"]),
])
def test_negator_after_the_finding_in_lists(text, absent, present):
    assert_read(text, absent=absent, present=present)


def test_a_forward_no_after_a_colon_is_not_a_backward_negator():
    assert_read("ROS: no fever. Cough: productive", absent=["fever"], present=["cough"])


# ------------------------------------------------------------------ lists of any length under one cue
ITEMS = ["headache", "dizziness", "blurred vision", "chest pain", "palpitations", "nausea", "vomiting", "high fever",
         "chills", "sweating", "sore throat", "runny nose", "joint pain", "back pain", "itchy rash", "wheezing",
         "diarrhoea", "constipation", "abdominal pain", "weight loss"]


@pytest.mark.parametrize("n", [2, 3, 5, 8, 12, 16, 20])
@pytest.mark.parametrize("cue", ["denies", "no", "negative for", "without", "patient denies any", "no evidence of"])
def test_lists_of_any_length_under_one_cue(n, cue):
    items = ITEMS[:n]
    text = f"{cue} {', '.join(items[:-1])} or {items[-1]}. Burning pain when urinating and frequent urination."
    assert_read(text, absent=items, present=["burning pain when urinating", "frequent urination"])


def test_a_bare_no_stops_at_a_comma_that_starts_a_new_finding():
    assert_read("No fever, productive cough for 3 days", absent=["fever"], present=["productive cough"])
    assert_read("no rash, no vomiting, sore throat", absent=["rash", "vomiting"], present=["sore throat"])


def test_a_denied_list_ends_at_the_sentence():
    assert_read("Denies chest pain, palpitations, orthopnoea or fever. Itchy red patches on elbows with silvery scale.",
                absent=["chest pain", "palpitations", "orthopnoea", "fever"], present=["itchy red patches", "silvery scale"])
    assert_read("denies cough; chills\nfever", absent=["cough"], present=["chills", "fever"])


# ------------------------------------------------------------------ neither A nor B
@pytest.mark.parametrize("text, absent, present", [
    ("She has neither fever nor cough. Itchy red patches on elbows.", ["fever", "cough"], ["itchy red patches"]),
    ("Neither high fever nor chills. Burning pain when urinating.", ["fever", "chills"], ["burning pain"]),
    ("Neither itchy rash nor skin peeling. Frequent urination.", ["itchy rash", "skin peeling"], ["frequent urination"]),
    ("neither nausea nor vomiting nor diarrhoea, headache", ["nausea", "vomiting", "diarrhoea"], ["headache"]),
    ("He reports neither chest pain nor shortness of breath but has a cough", ["chest pain", "shortness of breath"], ["cough"]),
])
def test_neither_nor(text, absent, present):
    assert_read(text, absent=absent, present=present)


# ------------------------------------------------------------------ - / + shorthand
@pytest.mark.parametrize("text, absent, present", [
    ("fever-, cough-, itchy rash+", ["fever", "cough"], ["itchy rash"]),
    ("fever-, chills-, sweating-, burning pain when urinating+, frequent urination+", ["fever", "chills", "sweating"],
     ["burning pain when urinating", "frequent urination"]),
    ("cough+ fever- rash+", ["fever"], ["cough", "rash"]),
    ("Headache +, vomiting -, neck stiffness -", ["vomiting", "neck stiffness"], ["headache"]),
    ("wheeze-. chest pain+.", ["wheeze"], ["chest pain"]),
])
def test_minus_plus_shorthand(text, absent, present):
    assert_read(text, absent=absent, present=present)


def test_a_hyphen_inside_words_is_not_a_minus():
    assert_read("x-ray shows nothing, follow-up for cough", present=["cough"])
    assert_read("sore throat - 3 days", present=["sore throat"])


# ------------------------------------------------------------------ hedges: the scope stops at the hedged item
@pytest.mark.parametrize("text, uncertain, present", [
    ("Possible UTI, burning pain when urinating, frequent urination", ["uti"], ["burning pain when urinating", "frequent urination"]),
    ("?pneumonia, productive cough and fever", ["pneumonia"], ["productive cough", "fever"]),
    ("pneumonia? productive cough", ["pneumonia"], ["productive cough"]),
    ("suspected malaria with high fever and chills", ["malaria"], ["high fever", "chills"]),
    ("query migraine, severe headache, nausea", ["migraine"], ["severe headache", "nausea"]),
    ("r/o dengue, fever, joint pain", ["dengue"], ["fever", "joint pain"]),
    ("likely psoriasis; itchy red patches", ["psoriasis"], ["itchy red patches"]),
    ("could be typhoid, fever and abdominal pain", ["typhoid"], ["fever", "abdominal pain"]),
])
def test_hedge_scope_stops_at_the_hedged_item(text, uncertain, present):
    assert_read(text, uncertain=uncertain, present=present)


# ------------------------------------------------------------------ pseudo-negations
@pytest.mark.parametrize("text, present", [
    ("no improvement in cough", ["cough"]),
    ("no change in the rash", ["rash"]),
    ("not only a headache but also vomiting", ["headache", "vomiting"]),
    ("no relief of the chest pain with antacids", ["chest pain"]),
    ("I have no appetite and I feel like vomiting", ["vomiting"]),
    ("cough has not resolved", ["cough"]),
    ("gram negative organisms; fever", ["fever"]),
])
def test_pseudo_negations_state_the_finding(text, present):
    assert_read(text, present=present)


# ------------------------------------------------------------------ terminations
@pytest.mark.parametrize("text, absent, present", [
    ("denies fever but reports cough", ["fever"], ["cough"]),
    ("no rash, however has joint pain", ["rash"], ["joint pain"]),
    ("denies chest pain, complains of headache", ["chest pain"], ["headache"]),
    ("no vomiting although nausea", ["vomiting"], ["nausea"]),
    ("without fever; presents with sore throat", ["fever"], ["sore throat"]),
    ("I do not have a fever but my joints hurt", ["fever"], ["joints hurt"]),
])
def test_terminations_end_the_scope(text, absent, present):
    assert_read(text, absent=absent, present=present)


# ------------------------------------------------------------------ history and other people
def test_historical_and_family_findings_are_not_present():
    assert_read("h/o asthma. Mother has diabetes. Now wheezing", historical=["asthma"], other=["diabetes"],
                present=["wheezing"])
    assert_read("past medical history of migraine; headache today", historical=["migraine"], present=["headache"])
    assert_read("FHx: psoriasis. itchy scalp", other=["psoriasis"], present=["itchy scalp"])
    assert_read("3 day history of cough and fever", present=["cough", "fever"])  # the present illness
    assert_read("Hey mom and dad, I have a cough that won't go away", present=["cough"])


@pytest.mark.parametrize("text, present", [
    # collateral history: a relative who reports is not the person with the finding
    ("Wife says he has a headache and has been vomiting", ["headache", "vomiting"]),
    ("His wife noticed a rash on his chest this morning", ["rash"]),
    ("Mum is worried he has a fever and a cough", ["fever", "cough"]),
    ("Per mum, cough and fever for 3 days", ["cough", "fever"]),
    ("Brought in by her daughter: confusion and fever", ["confusion", "fever"]),
    ("According to his wife, chest pain since the morning", ["chest pain"]),
    ("Daughter says mum has a fever and is confused", ["fever"]),  # the patient named by the reporting relative
    ("Mum reports 4 yr old son has a fever and a rash", ["fever", "rash"]),  # a child named by age is the patient
])
def test_a_relative_reporting_is_not_family_history(text, present):
    assert_read(text, present=present)


@pytest.mark.parametrize("text, uncertain, present", [
    # safety-netting: a conditional's own verb ("he develops", "she has", "you are") does not end its scope
    ("Cough for 3 days. Return if he develops chest pain.", ["chest pain"], ["cough"]),
    ("If she has a rash, come back. Fever today.", ["rash"], ["fever"]),
    ("Nitrofurantoin, fluids, return if fever, loin pain or rigors", ["fever", "loin pain", "rigors"], []),
    ("Paracetamol if needed, cough for 3 days", [], ["cough"]),
    ("I would be grateful if you could see this man with weakness", [], ["weakness"]),  # a letter, not a condition
    ("He should have a CT as has headache and vomiting", [], ["headache", "vomiting"]),  # "should" still ends at "has"
])
def test_conditional_clauses_are_hypothetical(text, uncertain, present):
    assert_read(text, uncertain=uncertain, present=present)


@pytest.mark.parametrize("text, other, present", [
    ("Mum says her sister had asthma. He has a cough", ["asthma"], ["cough"]),  # the relative she names
    ("Brother found to have diabetes. Now wheezing", ["diabetes"], ["wheezing"]),  # not a report: his finding
    ("Mother has diabetes, father has asthma", ["diabetes", "asthma"], []),
])
def test_family_history_beside_a_reporting_relative_stays_family(text, other, present):
    assert_read(text, other=other, present=present)


# ------------------------------------------------------------------ the result and the model text
def test_findings_carry_their_place_in_the_note():
    text = "Chest pain: no. Burning pain when urinating: yes"
    for f in preprocess(text).findings:
        assert text[f.start:f.end].lower() == f.phrase


def test_every_finding_denied_leaves_nothing_for_the_model():
    pre = preprocess("Fever: nil. Rash: negative. Cough: absent")
    assert set(findings_by_status(pre, ABSENT)) == {"fever", "rash", "cough"}
    assert not re.search(r"[A-Za-z]", pre.model_text)


def test_findings_by_status_rejects_unknown_status():
    with pytest.raises(ValueError, match="status must be one of"):
        findings_by_status(preprocess("fever"), "negated")


def test_batch_and_single_give_the_same_reading():
    notes = ["fever-, cough+", "denies chest pain. SpO2 88%", "possible UTI, dysuria", "plain text", "", "fever-, cough+"]
    assert preprocess_all(notes) == [preprocess(n) for n in notes]
    assert [words(t) for t in preprocess_many(notes)] == [words(preprocess(n).model_text) for n in notes]


def test_finding_terms_lists_the_vocabulary():
    terms = finding_terms()
    assert {"fever", "shortness of breath", "burning pain when urinating", "skin rash"} <= set(terms)
    assert len(terms) > 400 and all(t == t.lower() for t in terms)


@pytest.mark.parametrize("text", ["", "   ", "???", "😀😀", "多日发热 and cough", "<b>no fever</b>", "1234 5678",
                                  "no " * 2000, "fever-" * 500])
def test_odd_input_is_read_without_error(text):
    pre = preprocess(text)
    assert pre.original == text and isinstance(pre.model_text, str)


@pytest.mark.parametrize("text, absent, present, uncertain", [
    ("Chest pain denied. Shortness of breath denied. Itchy rash on arms.", ["chest pain", "shortness of breath"], ["itchy rash"], []),
    ("Nil fever. cough +ve. rash -ve", ["fever", "rash"], ["cough"], []),
    ("UTI suspected, burning pain when urinating", [], ["burning pain when urinating"], ["uti"]),
    ("pneumonia likely; productive cough", [], ["productive cough"], ["pneumonia"]),
    ("fever - negative, cough - positive, rash - none", ["fever", "rash"], ["cough"], []),
])
def test_a_cue_word_that_ends_its_clause_is_read_backward(text, absent, present, uncertain):
    assert_read(text, absent=absent, present=present, uncertain=uncertain)


# ------------------------------------------------ denied words outside the finding vocabulary (issue 12, /4)

@pytest.mark.parametrize("text, gone, kept", [
    ("Denies presyncope. Itchy rash on arms.", ["presyncope"], ["itchy", "rash", "arms"]),
    ("presyncope - denies. headache +.", ["presyncope", "denies"], ["headache"]),
    ("Denies fever, chills, orthopnoea, PND, calf tenderness or presyncope. Itchy rash.",
     ["pnd", "presyncope", "orthopnoea"], ["itchy", "rash"]),
    ("No haemoptysis, no presyncope, productive cough.", ["presyncope"], ["cough", "phlegm"]),
    ("Fever, cough, no arthralgia or myalgia or xerostomia.", ["xerostomia", "myalgia"], ["fever", "cough"]),
    ("Neither presyncope nor orthopnoea. Headache with nausea.", ["presyncope", "orthopnoea"], ["headache", "nausea"]),
    ("Cough. No recent travel abroad, no sick contacts.", ["travel", "contacts"], ["cough"]),
    ("Possible cholangitis, fever and jaundice.", ["cholangitis"], ["fever"]),
    ("Productive cough, SpO2 88% on air, no presyncope", ["presyncope"], ["phlegm", "oxygen"]),
    ("Denies presyncope but has burning pain when urinating", ["presyncope"], ["burning", "urinating"]),
])
def test_denied_words_outside_the_vocabulary_never_reach_the_model(text, gone, kept):
    """The model must see only present findings as evidence: a denied or hedged word the finding
    vocabulary does not know is removed with its cue's scope, whatever else the note says."""
    pre = assert_read(text)
    model = words(pre.model_text)
    for w in gone:
        assert w not in model, (text, pre.model_text)
    for w in kept:
        assert w in model, (text, pre.model_text)
    assert preprocess_many([text]) and words(preprocess_many([text])[0]) == model  # batch = single


@pytest.mark.parametrize("text", ["weight loss without trying", "collapsed without warning",
                                  "chest pain without obvious cause", "no improvement in the cough"])
def test_pseudo_negations_keep_their_words(text):
    assert preprocess(text).model_text == text


@pytest.mark.parametrize("text, absent, present, uncertain", [
    ("Denies: fever, cough, rash. Itchy eyes.", ["fever", "cough", "rash"], ["itchy"], []),
    ("ROS negative: fever, chills. Productive cough.", ["fever", "chills"], ["cough"], []),
    ("Cough: no. Denies: chest pain or SOB. Itchy rash.", ["cough", "chest pain", "sob"], ["itchy rash"], []),
    ("Possible: pneumonia, cough with phlegm", [], ["cough"], ["pneumonia"]),
    ("Fever: no: checked twice. Rash.", ["fever"], ["rash"], []),
])
def test_a_cue_followed_by_a_colon_opens_its_list(text, absent, present, uncertain):
    assert_read(text, absent=absent, present=present, uncertain=uncertain)
