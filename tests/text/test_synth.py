"""medviz.text.synth: knowledge-base checks, deterministic generation, registers, the CLI."""
from __future__ import annotations

import copy
import json

import pytest

from medviz.cli import main
from medviz.text.synth import CaseGenerator, KnowledgeBaseError, load_knowledge_base, parse_knowledge_base
from medviz.text.synth.kb import AGE_BANDS

SYMPTOMS = {"fever": "Fever", "cough": "Cough", "headache": "Headache", "vomiting": "Vomiting",
            "neck-stiffness-or-tightness": "Neck stiffness or tightness", "sharp-chest-pain": "Sharp chest pain"}


def _odds(**over):
    odds = {b: 1.0 for b in AGE_BANDS}
    odds.update(over)
    return odds


CONDITIONS = {
    "pneumonia": {"name": "Pneumonia", "symptoms": {"fever": 70, "cough": 85, "sharp-chest-pain": 30},
                  "age_odds": _odds(), "sex_odds": {"Female": 1.0, "Male": 1.0}, "race_odds": {"Other": 1.0}},
    "meningitis": {"name": "Meningitis", "symptoms": {"fever": 80, "headache": 87, "vomiting": 53, "neck-stiffness-or-tightness": 21},
                   "age_odds": _odds(), "sex_odds": {"Female": 1.0, "Male": 1.2}},
    "migraine": {"name": "Migraine", "symptoms": {"headache": 95, "vomiting": 40},
                 "age_odds": _odds(**{"< 1 years": 0.0, "75+ years": 0.0}), "sex_odds": {"Female": 3.0, "Male": 0.0}},
}


def _kb(conditions=None):
    return parse_knowledge_base(conditions or CONDITIONS, SYMPTOMS)


def test_generation_is_deterministic_and_per_condition():
    kb = _kb()
    a = CaseGenerator(kb).generate(9, seed=3)
    b = CaseGenerator(kb).generate(9, seed=3)
    assert [c.text for c in a] == [c.text for c in b]
    assert [c.text for c in CaseGenerator(kb).generate(9, seed=4)] != [c.text for c in a]


def test_cases_follow_the_knowledge_base():
    kb = _kb()
    cases = CaseGenerator(kb, sparse_share=0.5).generate(60, seed=1)
    assert len(cases) == 180 and {c.register for c in cases} == {"patient", "shorthand", "vignette"}
    own = {c.slug: {s for s, _ in c.symptoms} for c in kb.conditions}
    for c in cases:
        assert 1 <= len(c.findings) and set(c.findings) <= own[c.condition]
        assert not set(c.negatives) & own[c.condition]  # pertinent negatives come from look-alikes only
        if c.kind == "sparse":
            assert len(c.findings) <= 2
    mig = [c for c in cases if c.condition == "migraine"]
    assert {c.sex for c in mig} == {"Female"} and all(1 <= c.age <= 74 for c in mig)  # zero odds never drawn
    assert any(c.negatives for c in cases if c.condition == "meningitis")  # pneumonia's cough stated absent
    short = [c.text for c in cases if c.register == "shorthand"]
    assert all(" c/o " in t for t in short)
    assert all(t.startswith(("A ", "An ")) for t in (c.text for c in cases if c.register == "vignette"))


def test_clinical_names_come_from_the_synonym_table():
    kb = _kb()
    syn = {"fever": {"lay": ["a high temperature"], "clinical": ["pyrexia"]}, "cough": {"lay": ["coughing fits"], "clinical": ["tussis"]}}
    gen = CaseGenerator(kb, synonyms=syn, sparse_share=0.0)
    cases = [c for c in gen.generate(30, seed=2) if c.condition == "pneumonia"]
    assert any("pyrexia" in c.text for c in cases if c.register == "shorthand")
    assert not any("pyrexia" in c.text for c in cases if c.register == "patient")
    assert any("a high temperature" in c.text for c in cases if c.register == "patient")


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["pneumonia"].pop("sex_odds"), "condition 'pneumonia': field 'sex_odds' is missing"),
    (lambda d: d["pneumonia"]["symptoms"].update(fever=120), "condition 'pneumonia': field 'symptoms.fever': 120 is outside 0-100"),
    (lambda d: d["pneumonia"]["symptoms"].update(fever=-1), "field 'symptoms.fever': -1 is outside 0-100"),
    (lambda d: d["meningitis"]["symptoms"].update(photophobia=30), "condition 'meningitis': field 'symptoms.photophobia' is an unknown symptom slug"),
    (lambda d: d["migraine"]["age_odds"].pop("1-4 years"), "condition 'migraine': field 'age_odds.1-4 years' is missing"),
    (lambda d: d["migraine"]["symptoms"].update(headache="often"), "field 'symptoms.headache': expected a number"),
    (lambda d: d["migraine"].update(sex_odds={"Female": 0, "Male": 0}), "field 'sex_odds' is 0 in every band"),
])
def test_bad_knowledge_base_names_condition_and_field(mutate, expected):
    bad = copy.deepcopy(CONDITIONS)
    mutate(bad)
    with pytest.raises(KnowledgeBaseError, match=None) as err:
        parse_knowledge_base(bad, SYMPTOMS)
    assert expected in str(err.value)


def test_cli_writes_jsonl_and_reports_bad_input(tmp_path, capsys):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "conditions.json").write_text(json.dumps(CONDITIONS))
    (kb / "symptoms.json").write_text(json.dumps(SYMPTOMS))
    out = tmp_path / "cases.jsonl"
    assert main(["synth", "--kb", str(kb), "--per-condition", "4", "--seed", "7", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12 and {r["label"] for r in rows} == {"Pneumonia", "Meningitis", "Migraine"}
    assert load_knowledge_base(kb).by_name()["Migraine"].slug == "migraine"
    bad = copy.deepcopy(CONDITIONS)
    bad["pneumonia"]["symptoms"]["fever"] = 101
    (kb / "conditions.json").write_text(json.dumps(bad))
    assert main(["synth", "--kb", str(kb), "--per-condition", "4", "--out", str(tmp_path / "x.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "condition 'pneumonia'" in err and "symptoms.fever" in err
    assert not (tmp_path / "x.jsonl").exists()


def test_screening_negatives_deny_common_findings_in_unrelated_conditions():
    """A denied finding must not become evidence for the conditions it usually signals: the most prevalent
    findings (here fever, headache, cough) are denied in cases of conditions that lack them, in many forms."""
    kb = _kb()
    gen = CaseGenerator(kb, negatives_share=0.0, screening_share=1.0, long_share=0.0)
    cases = gen.generate(90, seed=5)
    own = {c.slug: {s for s, _ in c.symptoms} for c in kb.conditions}
    mig = [c for c in cases if c.condition == "migraine"]
    assert all(c.negatives and not set(c.negatives) & own["migraine"] for c in mig)
    assert {"fever", "cough"} <= {s for c in mig for s in c.negatives}  # pneumonia's findings, not migraine's look-alikes
    forms = ("Denies ", "No ", ": no.", " -ve", "Nil ", "ROS neg for ", " - none.", " denied.", "Neither ")
    short = [c.text for c in cases if c.register == "shorthand"]
    assert sum(any(f in t for t in short) for f in forms) >= 7  # the forms, leading and trailing
    assert CaseGenerator(kb, negatives_share=0.0, screening_share=0.0).generate(9, seed=5)[0].negatives == ()


def test_long_notes_carry_history_drawn_independently_of_the_condition():
    kb = _kb()
    long = CaseGenerator(kb, long_share=1.0).generate(30, seed=8)
    short = CaseGenerator(kb, long_share=0.0).generate(30, seed=8)
    words = lambda cs: sorted(len(c.text.split()) for c in cs)[len(cs) // 2]  # noqa: E731
    assert words(long) > words(short) + 10
    adult_short = [c.text for c in long if c.register == "shorthand" and c.age >= 16]
    assert adult_short and all("PMH: " in t and "DH: " in t and "FHx" in t for t in adult_short)
    assert all(" c/o " in c.text for c in long if c.register == "shorthand")
    # the history is drawn independently of the condition: each condition's notes share the same history items
    pmh = lambda slug: {x for c in long if c.condition == slug and "PMH: " in c.text  # noqa: E731
                        for x in c.text.split("PMH: ")[1].split(".")[0].split(", ")}
    assert len(pmh("pneumonia") & pmh("meningitis")) >= 2
