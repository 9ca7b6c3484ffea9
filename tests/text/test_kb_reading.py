"""How the knowledge-base expert reads clinicians' shorthand (issue 15, can't-miss recall): trailing negation
("CP - none"), combined abbreviations ("N/V"), vital signs by value ("HR 118"), clinician findings that the
knowledge base lacks for a condition, and the rebuilt expert of a shipped bundle (``calibrate --rebuild-expert``)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from medviz.text.synth.bayes import KnowledgeBaseBayes
from tests.text.test_synth import CONDITIONS, SYMPTOMS, _kb

SYN = {"fever": {"lay": ["high temperature"], "clinical": ["pyrexia"]},
       "sharp-chest-pain": {"lay": [], "clinical": ["chest pain", "CP"]},
       "cough": {"lay": [], "clinical": ["cough"]},
       "vomiting": {"lay": [], "clinical": ["vomiting"]},
       "headache": {"lay": [], "clinical": ["headache", "HA"]}}
# phrases the vital-sign rules map to, plus a table value that must not be read as an exact-number phrase
CLIN = {"pneumonia": {"tachycardia": 40, "hypoxia": 30, "HR 118": 20, "headache": 25},
        "meningitis": {"hypotension": 20, "nausea": 50, "headache": 10}}


@pytest.fixture(scope="module")
def expert():
    return KnowledgeBaseBayes(_kb(), SYN, CLIN)


def _read(expert, text):
    return expert.findings(text)


@pytest.mark.parametrize("text, present, absent", [
    ("CP - none", [], ["sharp chest pain"]),
    ("Fever: no. Cough.", ["cough"], ["fever"]),
    ("SOB no, CP no, cough", ["cough"], ["sharp chest pain"]),
    ("HA denied, vomiting", ["vomiting"], ["headache"]),
    ("fever nil", [], ["fever"]),
    ("vomiting no blood", ["vomiting"], []),  # the cue does not end the clause: not a trailing negation
    ("fever no vomiting", ["fever"], ["vomiting"]),  # ... it negates what follows, as before
    ("denies CP", [], ["sharp chest pain"]),
    # the shared assertion cases' classes (tests/data/assertion_cases.csv; benchmarks/assertion_cases.py)
    ("She has neither fever nor cough. Headache.", ["headache"], ["fever", "cough"]),
    ("fever - denies. vomiting - present", ["vomiting"], ["fever"]),
    ("fever-, cough-, headache+", ["headache"], ["fever", "cough"]),
    ("fever +, cough -", ["fever"], ["cough"]),
    ("fever -\ncough +", ["cough"], ["fever"]),
    ("fever: -, vomiting", ["vomiting"], ["fever"]),
    ("X-ray normal, non-tender, fever", ["fever"], []),  # a hyphen inside a word is not a sign
])
def test_trailing_and_leading_negation(expert, text, present, absent):
    p, a = _read(expert, text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


@pytest.mark.parametrize("text, present, absent", [
    ("67M c/o N/V and HA", ["nausea", "vomiting", "headache"], []),
    ("no N/V", [], ["nausea", "vomiting"]),
    ("D&V for 3 days", ["vomiting"], []),  # diarrhoea: no such phrase in this tiny table, skipped
])
def test_combined_abbreviations_are_each_finding(expert, text, present, absent):
    p, a = _read(expert, text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


@pytest.mark.parametrize("text, expected", [
    ("HR 118, BP 84/50", {"tachycardia", "hypotension"}),
    ("pulse 72, BP 128/80, T 36.9", set()),
    ("T 39.8", {"fever"}),
    ("temp 101.5", {"fever"}),  # Fahrenheit
    ("T2DM, sats 88% on air", {"hypoxia"}),  # "T2DM" is no temperature
    ("HR 44", set()),  # bradycardia: not a phrase of this table, skipped
    ("BP 80/50", {"hypotension"}),
])
def test_vital_signs_are_read_by_value(expert, text, expected):
    p, a = _read(expert, text)
    assert set(p) == expected and not a


def test_exact_value_phrases_are_not_keywords(expert):
    # "HR 118" is a phrase of the table, but the value is what counts: the same column as HR 130
    assert expert.read("HR 118").present == expert.read("HR 130").present == (expert.phrase_col["tachycardia"],)


def test_clinician_findings_fill_what_the_knowledge_base_lacks(expert):
    col = expert.phrase_col["headache"]
    lab = expert.labels
    assert np.isclose(expert.freq[lab.index("Pneumonia"), col], 0.25)  # the knowledge base lists no headache
    assert np.isclose(expert.freq[lab.index("Meningitis"), col], 0.87)  # its own 87 % is kept, not the table's 10 %
    again = KnowledgeBaseBayes.from_json(expert.to_json())
    assert np.allclose(again.log_scores(["HA, HR 120, CP - none"]), expert.log_scores(["HA, HR 120, CP - none"]))


def test_age_under_a_year_in_weeks_or_days(expert):
    assert expert.read("A 6-week-old baby vomiting").age == 0
    assert expert.read("10-day-old girl, fever").age == 0


def test_calibrate_rebuilds_the_expert_from_the_current_tables(tmp_path, capsys, train_tiny_kb_bundle):
    """``calibrate --rebuild-expert``: the bundle's expert is rebuilt with the shipped tables, its hash, version
    and changelog recorded, the network untouched, and the product temperature refitted."""
    import shutil

    from medviz.bundle import load_bundle
    from medviz.cli import main
    from medviz.text.synth.bayes import expert_for

    pytest.importorskip("tensorflow")
    path, d = train_tiny_kb_bundle(tmp_path, SYN, CLIN, epochs=2)  # 3 conditions, seconds
    copy = tmp_path / "b"
    shutil.copytree(path, copy)
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "conditions.json").write_text(json.dumps(CONDITIONS))
    (kb / "symptoms.json").write_text(json.dumps(SYMPTOMS))
    model_hash = json.loads((copy / "manifest.json").read_text())["files"]["model.keras"]
    assert main(["calibrate", str(copy), "--rebuild-expert", str(kb), "--version", "9.9.9", "--change", "tables",
                 "--cases", str(d / "train.jsonl"), "--training-file"]) == 0
    assert "expert rebuilt" in capsys.readouterr().out
    after = json.loads((copy / "manifest.json").read_text())
    assert after["version"] == "9.9.9" and after["changelog"][0] == "tables"
    assert after["knowledge_base_expert"]["rebuilt"]["network"].startswith("unchanged")
    assert after["files"]["model.keras"] == model_hash
    b = load_bundle(copy)  # every file matches its recorded SHA-256
    expert, _ = expert_for(b)
    # the shipped synonym table (not the tiny one the bundle was trained with) is now read: "CP" is chest pain
    assert expert.findings("denies CP") == ([], ["sharp chest pain"])
    assert main(["calibrate", str(copy), "--version", "1", "--cases", str(d / "train.jsonl")]) == 1
    assert "--rebuild-expert" in capsys.readouterr().err


@pytest.fixture(scope="module")
def bleeding_expert():
    syn = {"vomiting": {"lay": [], "clinical": ["vomiting"]}, "vomiting-blood": {"lay": ["vomiting blood"], "clinical": ["haematemesis"]},
           "cough": {"lay": [], "clinical": ["cough"]}, "hemoptysis": {"lay": ["coughing up blood"], "clinical": ["haemoptysis"]}}
    symptoms = dict(SYMPTOMS, **{"vomiting-blood": "Vomiting blood", "hemoptysis": "Hemoptysis"})
    conditions = json.loads(json.dumps(CONDITIONS))
    conditions["pneumonia"]["symptoms"]["hemoptysis"] = 5
    conditions["meningitis"]["symptoms"]["vomiting-blood"] = 1
    from medviz.text.synth import parse_knowledge_base

    return KnowledgeBaseBayes(parse_knowledge_base(conditions, symptoms), syn)


@pytest.mark.parametrize("text, present, absent", [
    ("vomits a large amount of bright red blood", ["vomiting blood"], []),  # "vomits": no phrase of this table
    ("blood in the vomit", ["vomiting blood"], []),
    ("coughing up some blood", ["hemoptysis"], []),
    ("vomiting, no blood", ["vomiting"], []),  # a cue between them: no bleeding
    ("vomiting but there was blood on the tissue", ["vomiting"], []),  # another clause
    ("no vomiting blood", [], ["vomiting blood"]),
])
def test_blood_with_its_source_a_few_words_away(bleeding_expert, text, present, absent):
    p, a = bleeding_expert.findings(text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


# Release 2.4.0 (issue 15): verb phrases and findings with words between their parts, read by the medspaCy / spaCy
# target rules of medviz/text/synth/phrase_rules.json over lemmas, with ConText's assertion status.
RULE_PHRASES = {"pneumonia": {"absolute constipation": 10, "unable to move legs": 10, "respiratory depression": 10,
                              "found outdoors": 10, "exposure to cold": 10, "amaurosis fugax": 10, "bilious vomiting": 10}}


@pytest.fixture(scope="module")
def rule_expert():
    return KnowledgeBaseBayes(_kb(), SYN, RULE_PHRASES)


@pytest.mark.parametrize("text, present", [
    ("A 70-year-old man has not opened his bowels or passed wind for four days.", ["absolute constipation"]),
    ("He hasn't passed any wind since yesterday.", ["absolute constipation"]),
    ("He fell from a ladder and cannot feel or move his legs.", ["unable to move legs"]),
    ("Started on morphine, now very drowsy and breathing slowly.", ["respiratory depression"]),
    ("Her breaths are slow and shallow.", ["respiratory depression"]),
    ("A homeless man was found outside on a freezing night.", ["found outdoors", "exposure to cold"]),
    ("A curtain came down over his left eye for five minutes, which then cleared completely.", ["amaurosis fugax"]),
    ("A 6-week-old baby is vomiting green bile.", ["vomiting", "bilious vomiting"]),  # "baby": the patient, not a relative
])
def test_verb_phrases_and_gapped_findings_are_read(rule_expert, text, present):
    p, a = rule_expert.findings(text)
    assert sorted(p) == sorted(present) and not a


@pytest.mark.parametrize("text, present, absent", [
    ("Bowels opened today and passing wind.", [], []),  # the normal function, not its absence
    ("Denies breathing slowly.", [], ["respiratory depression"]),  # negated before
    ("His mother cannot move her legs.", [], []),  # family: not the patient's
    ("If he cannot move his legs, call 999.", [], []),  # hypothetical
    ("Cough. She cannot move her legs.", ["cough", "unable to move legs"], []),  # the n-gram reading is kept
])
def test_phrase_rules_keep_assertion_status(rule_expert, text, present, absent):
    p, a = rule_expert.findings(text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


def test_phrase_rules_run_only_where_their_words_are(rule_expert):
    from medviz.text.synth.bayes import _TOKEN

    rules = rule_expert._phrase_rules
    assert not rules.may_match(_TOKEN.findall("cough and fever for three days, not vomiting"))
    assert rules.may_match(_TOKEN.findall("has not opened his bowels or passed wind"))
    # a rule whose phrase the expert's tables lack is skipped (the tiny tables here have no "lucid interval")
    assert "lucid interval" not in rules.column and "absolute constipation" in rules.column


def test_lemmas_are_lemminflects_verb_first():
    from medviz.text.synth.phrase_rules import lemma

    assert [lemma(w) for w in ("opened", "bowels", "breathing", "legs", "xyzzy")] == ["open", "bowel", "breathe", "leg", "xyzzy"]


def test_a_cause_named_in_the_clinician_table_floors_its_findings():
    """P(s | c) >= P(cause | c) x P(s | cause): meningitis's table names pneumonia (40 %), so pneumonia's cough
    (85 %) is at least 34 % for meningitis; a finding meningitis already has more of keeps its own share."""
    e = KnowledgeBaseBayes(_kb(), SYN, {"meningitis": {"known pneumonia / pneumonia": 40}})
    lab, col = e.labels, e.phrase_col
    assert np.isclose(e.freq[lab.index("Meningitis"), col["cough"]], 0.34)
    assert np.isclose(e.freq[lab.index("Meningitis"), col["fever"]], 0.80)  # its own 80 % > 0.4 x 70 %
    assert e.freq[lab.index("Migraine"), col["cough"]] == 0  # names no cause
    plain = KnowledgeBaseBayes(_kb(), SYN, {})
    assert plain.freq[lab.index("Meningitis"), col["cough"]] == 0


def test_an_expert_with_phrase_rules_pickles(rule_expert):
    """The expert goes to worker processes: its rules' lock and spaCy objects are rebuilt there."""
    import pickle

    text = "He cannot feel or move his legs."
    rule_expert.read(text)  # the spaCy pipeline built
    again = pickle.loads(pickle.dumps(rule_expert))
    assert again.findings(text) == rule_expert.findings(text) == (["unable to move legs"], [])


def test_phrase_rules_file_reads_as_medspacy_target_rules_and_bad_rules_are_named(tmp_path):
    """read_rules (json, no medspaCy import) reads what medspaCy's TargetRule.from_json reads from the shipped file."""
    import json

    from medspacy.target_matcher import TargetRule

    from medviz.errors import InputError
    from medviz.text.synth.phrase_rules import RULES_FILE, read_rules

    ours = read_rules(RULES_FILE)
    theirs = TargetRule.from_json(str(RULES_FILE))
    assert len(ours) == len(theirs) > 0
    assert [(r.literal, r.category, r.pattern, r.metadata) for r in ours] == \
        [(r.literal, r.category, r.pattern, r.metadata) for r in theirs]
    bad = tmp_path / "rules.json"
    bad.write_text(json.dumps({"target_rules": [{"literal": "x", "category": "fever", "pattern": []}]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"target_rules\[0\] needs a non-empty 'pattern'"):
        read_rules(bad)


# Release 2.6.0 (session 11): clinicians' wordings of signs, values and negated lists, from the development vignettes'
# classes of misses (docs/ARCHITECTURE.md, "Session 11: ranking release 2.6.0 candidate").
@pytest.mark.parametrize("text, present, absent", [
    ("Fever or cough - none", [], ["fever", "cough"]),  # the trailing negation ends a list: each finding denied
    ("fever/cough - nil. Headache.", ["headache"], ["fever", "cough"]),  # "/" is no token: still one list
    ("Headache and vomiting: no", [], ["headache", "vomiting"]),
    ("Fever, cough - none", ["fever"], ["cough"]),  # a comma also separates findings charted each on its own
    ("Fever or cough, vomiting - none", ["fever", "cough"], ["vomiting"]),
])
def test_a_trailing_negation_denies_its_whole_list(expert, text, present, absent):
    p, a = _read(expert, text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


@pytest.mark.parametrize("text, present, absent", [
    ("No vomiting of blood, stools brown.", [], ["vomiting", "vomiting blood"]),
    ("He has not coughed up any blood.", [], ["hemoptysis"]),
    ("Vomited a cupful of blood.", ["vomiting blood"], []),
])
def test_blood_with_its_source_after_a_negation_is_denied(bleeding_expert, text, present, absent):
    p, a = bleeding_expert.findings(text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


VALUE_PHRASES = {"pneumonia": {"raised creatinine": 40, "raised lactate": 30, "ketones": 20, "raised carboxyhaemoglobin": 20,
                               "postural drop": 20}}


@pytest.fixture(scope="module")
def value_expert():
    return KnowledgeBaseBayes(_kb(), SYN, VALUE_PHRASES)


@pytest.mark.parametrize("text, expected", [
    ("Bloods: creatinine 390 (was 95 on discharge).", {"raised creatinine"}),
    ("creat 1.9 mg/dL", {"raised creatinine"}),  # under 25: mg/dL
    ("creatinine 88", set()),
    ("Creatinine 1240 umol/L today.", {"raised creatinine"}),  # four digits read whole (was read as 124)
    ("creatinine 12400", set()),  # five digits: no value (not 124 nor 1240)
    ("Lactate 5.1.", {"raised lactate"}),
    ("lactate 2.8", set()),  # below NICE NG51's high-risk 4 mmol/L
    ("COHb 28%", {"raised carboxyhaemoglobin"}),
    ("ketones 4.2", {"ketones"}),
    ("Ketones 0.6 on the meter", set()),  # the word is a table phrase, but its value says no ketosis
    ("ketones +++", {"ketones"}),
    ("Lying BP 142/80, standing at 3 minutes 108/64.", {"postural drop"}),
    ("Lying BP 142/80, standing at 3 minutes 136/78.", set()),
])
def test_test_results_are_read_by_value(value_expert, text, expected):
    p, a = value_expert.findings(text)
    assert set(p) == expected and not a


SIGN_PHRASES = {"pneumonia": {p: 10 for p in (
    "haloes", "proptosis", "curtain over vision", "focal weakness", "high-riding testis", "absent cremasteric reflex",
    "pain out of proportion", "oliguria", "recent fall", "dehydration", "rectal bleeding", "pain on eye movement",
    "cloudy cornea", "double vision")}}


@pytest.fixture(scope="module")
def sign_expert():
    return KnowledgeBaseBayes(_kb(), SYN, SIGN_PHRASES)


@pytest.mark.parametrize("text, present, absent", [
    ("Blurred vision with coloured rings round lights.", ["haloes"], []),
    ("Now her eye is pushed forward and she sees two of things.", ["proptosis", "double vision"], []),
    ("Part of her vision has gone grey from the side, like a shadow.", ["curtain over vision"], []),
    ("No curtain or shadow over vision.", [], ["curtain over vision"]),
    ("GCS 14, R pronator drift.", ["focal weakness"], []),
    ("Testis high, horizontal lie, cremasteric reflex absent.", ["high-riding testis", "absent cremasteric reflex"], []),
    ("Severe pain far worse than it looks.", ["pain out of proportion"], []),
    ("Passing small amounts of dark urine.", ["oliguria"], []),
    ("Fell down the stairs three weeks ago.", ["recent fall"], []),
    ("He fell asleep on the sofa.", [], []),
    ("Dry mucous membranes, sunken eyes.", ["dehydration"], []),
    ("Passed dark red blood with clots PR twice.", ["rectal bleeding"], []),
    ("Painful to move the eye.", ["pain on eye movement"], []),
    ("Cornea hazy.", ["cloudy cornea"], []),
])
def test_clinicians_wordings_of_signs_are_read(sign_expert, text, present, absent):
    p, a = sign_expert.findings(text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


# Safety-netting advice (session 12): the findings of a conditional clause are hypothetical, not the patient's now.
@pytest.mark.parametrize("text, present, absent", [
    ("Cough 3 days. Return if he develops chest pain.", ["cough"], []),
    ("Advised fluids, return if fever, headache or vomiting", [], []),  # the whole list up to the clause's end
    ("Headache. Ring back if worse, fever or vomiting.", ["headache"], []),
    ("If she has a fever, come back. Cough today.", ["cough"], []),  # the comma ends the conditional
    ("Paracetamol if needed, cough for 3 days", ["cough"], []),
    ("Return if not vomiting but fever", ["fever"], []),  # "but" ends the clause: neither denied nor hypothetical
    # not a conditional: a letter's "if you could see", "as if", "grateful if"
    ("I would be grateful if you could see this man with fever and cough", ["fever", "cough"], []),
    ("Feels as if she has a fever", ["fever"], []),
])
def test_conditional_findings_are_not_read(expert, text, present, absent):
    p, a = _read(expert, text)
    assert sorted(p) == sorted(present) and sorted(a) == sorted(absent)


def test_blood_in_a_conditional_clause_is_not_read(bleeding_expert):
    assert bleeding_expert.findings("Return if vomiting blood.") == ([], [])
    assert bleeding_expert.findings("Vomited blood twice. Return if it happens again.")[0] == ["vomiting blood"]
