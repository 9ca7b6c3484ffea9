"""Hedged findings in the knowledge-base expert's reading (session 13): "?neck stiffness", "possible rash", "query
appendicitis", "r/o MI", "appendicitis?" are *uncertain* (``ReadCase.uncertain``), not present and not absent, with the
cues of the clinical reader's ConText POSSIBLE_EXISTENCE rules; the 801-condition bundle's scored CSV
(``findings_uncertain``) and Case page (``CaseAnalysis.findings`` / ``expert_findings``) list them from one reading."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from medviz.text.synth.bayes import KnowledgeBaseBayes
from tests.text.test_kb_reading import CLIN, RULE_PHRASES, SYN
from tests.text.test_synth import _kb

ROOT = Path(__file__).resolve().parents[2]
RULES = json.loads((ROOT / "medviz" / "text" / "clinical" / "data" / "context_rules.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def expert():
    return KnowledgeBaseBayes(_kb(), SYN, CLIN)


def _names(expert, text):
    """(present, absent, uncertain) names, each sorted."""
    return tuple(sorted(names) for names in expert.finding_names(text))


@pytest.mark.parametrize("text", [
    "?fever", "Seen today. ?fever", "? fever", "?? fever",  # a query before the finding, on it or apart
    "fever?", "Is it a fever?",  # a "?" written onto the finding
    "possible fever", "possibly slightly high temperature", "probable pyrexia", "likely fever", "query fever",
    "suspected fever", "suspect fever", "questionable fever", "presumed fever", "ddx fever", "maybe some fever",
    "perhaps a fever", "could be fever", "may be a fever", "r/o fever", "rule out fever", "cannot exclude fever",
    "can't exclude fever", "cant rule out fever", "concerning for fever", "suggestive of fever", "in keeping with fever",
    "consistent with fever", "fever suspected.", "fever - likely, ", "fever is possible", "fever not ruled out",
    "fever cannot be excluded", "fever has not been excluded",
    # session 13: a "not" inside the hedge phrase is no negation (these were read as absent)
    "could not exclude fever", "can not exclude fever", "could not rule out fever", "couldn't exclude fever",
])
def test_hedged_findings_are_uncertain_not_present(expert, text):
    assert _names(expert, text) == ([], [], ["fever"])


@pytest.mark.parametrize("text, present, absent, uncertain", [
    # negation still reads as absent; a negation of the hedged finding itself wins, as in ConText
    ("no fever", [], ["fever"], []),
    ("denies fever or cough", [], ["cough", "fever"], []),
    ("fever: no", [], ["fever"], []),
    ("fever? no", [], ["fever"], []),  # asked and denied (charting form)
    ("fever? yes", ["fever"], [], []),  # asked and affirmed
    ("no possible fever", [], ["fever"], []),
    # a cue that ends its clause negates nothing: "no ?fever" is the query (as the clinical reader reads it)
    ("no ?fever", [], [], ["fever"]),
    ("no cough, ?fever", [], ["cough"], ["fever"]),
    ("no cough, possible fever", [], ["cough"], ["fever"]),  # the comma ends the denial's reach over the hedge
    ("denies cough. ?fever", [], ["cough"], ["fever"]),
    ("no fever ?cough", [], ["fever"], ["cough"]),  # the query ends the denial's clause, as the "?" did
    ("cough ?fever", ["cough"], [], ["fever"]),
    # one finding per hedge (max_targets 1), and a comma or a clause end stops it
    ("possible fever and cough", ["cough"], [], ["fever"]),
    ("?fever, cough", ["cough"], [], ["fever"]),
    ("possible, cough", ["cough"], [], []),
    ("query. fever", ["fever"], [], []),
    # a question's spaced "?" hedges only a finding written right after it
    ("What is wrong ? I have a cough", ["cough"], [], []),
    ("Is it serious? Cough for a week", ["cough"], [], []),
    # present anywhere in the note is present
    ("possible fever. Fever 39 last night", ["fever"], [], []),
    # ConText's backward negations after auxiliaries (session 13: these were read as present)
    ("fever ruled out", [], ["fever"], []),
    ("fever has been ruled out, cough", ["cough"], ["fever"], []),
    ("fever and cough were excluded.", [], ["cough", "fever"], []),
    ("fever unlikely.", [], ["fever"], []),
    ("fever was denied", [], ["fever"], []),
    ("cough is absent; fever", ["fever"], ["cough"], []),
    ("fever is unlikely to be the cause", ["fever"], [], []),  # not the clause's end: the fever is there
    ("fever has not been ruled out", [], [], ["fever"]),  # still a hedge
    ("cough has been present", ["cough"], [], []),
    ("could not walk, no fever", [], ["fever"], []),  # "could not" without "exclude": the negation as before
    # session 14: "unable to exclude / rule out" is a hedge (was read as nothing); a resolved symptom stays evidence
    ("unable to exclude fever, cough", ["cough"], [], ["fever"]),
    ("unable to rule out fever", [], [], ["fever"]),
    ("unable to walk, no fever", [], ["fever"], []),
    ("fever resolved, cough", ["cough", "fever"], [], []),  # a TIA's weakness "fully resolved" is still its evidence
])
def test_negation_queries_and_scopes(expert, text, present, absent, uncertain):
    assert _names(expert, text) == (present, absent, uncertain)


def test_a_hedged_finding_is_not_cut_for_the_network_and_denied_ranges_stay(expert):
    """Only denied findings are cut from the network's text (``without_denied``); the token ranges of the denials stay
    where they were although the "?" tokens are re-written (one token for one)."""
    from medviz.text.synth.bayes import without_denied

    text = "Denies cough. ?fever, fever? no"
    r = expert.read(text)
    assert r.uncertain == () and r.absent == (expert.phrase_col["cough"], expert.phrase_col["fever"])
    hedged = "Denies cough. ?PE, vomiting?"
    r = expert.read(hedged)
    assert [expert.column_names[c] for c in r.uncertain] == ["vomiting"] and r.present == ()
    assert without_denied(hedged, r.denied) == ". ?pe, vomiting?"


def test_a_hedged_finding_is_weighed_as_present_evidence(expert):
    """The decision (bayes.py, KnowledgeBaseBayes.indicators; figures in its comment): a hedged finding is shown as
    uncertain but gives the likelihood of a present one, with the denied findings' evidence either way."""
    hedged = expert.indicators(["?fever and cough", "fever and cough"], findings=True)
    assert (hedged.matrix[0] != hedged.matrix[1]).nnz == 0
    assert hedged.findings_list() == [(("cough",), (), ("fever",)), (("fever", "cough"), (), ())]
    plain = expert.indicators(["?fever and cough"], denied_evidence=False)
    assert plain.matrix.nnz == 2


def _forward_cue_texts():
    """One text per word combination of each forward POSSIBLE_EXISTENCE rule of the clinical reader's ConText rules
    (required tokens only; "__query__" is a "?" written onto the finding), each cue then "fever"."""
    for rule in RULES["context_rules"]:
        if rule["category"] != "POSSIBLE_EXISTENCE" or rule["direction"] != "FORWARD":
            continue
        choices = []
        for tok in rule["pattern"]:
            if tok.get("OP") == "?":
                continue
            value = tok.get("NORM", tok.get("LOWER"))
            choices.append(value["IN"] if isinstance(value, dict) else [value])
        for words in itertools.product(*choices):
            if words == ("__query__",):
                yield rule["literal"], "?fever"
            elif all(w.replace("'", "").isalnum() for w in words):  # "differential :" and "vs." are clause ends here
                yield rule["literal"], " ".join(words) + " fever"
            elif words == ("r", "/"):
                yield rule["literal"], "r/o fever"


def _backward_cue_texts():
    for rule in RULES["context_rules"]:
        if rule["category"] != "POSSIBLE_EXISTENCE" or rule["direction"] != "BACKWARD":
            continue
        norm = rule["pattern"][0].get("NORM")
        if norm == "__query_back__":
            yield rule["literal"], "fever?"
        elif norm == "__hedge_end__":
            yield from ((rule["literal"], f"fever {w}.") for w in RULES["hedge_end_words"])
        else:  # "not ruled out": each first word, then the last required word
            for first, last in itertools.product(rule["pattern"][0]["LOWER"]["IN"], rule["pattern"][3]["LOWER"]["IN"]):
                yield rule["literal"], f"fever {first} {last}"


def test_the_expert_reads_every_hedge_cue_of_the_clinical_readers_context_rules(expert):
    """One hedge vocabulary for both readers: every word combination of ConText's POSSIBLE_EXISTENCE rules
    (medviz/text/clinical/data/context_rules.json) hedges the expert's finding too."""
    texts = [*_forward_cue_texts(), *_backward_cue_texts()]
    assert len(texts) > 60
    missed = [(literal, text) for literal, text in texts if _names(expert, text) != ([], [], ["fever"])]
    assert not missed


def test_the_clinical_reader_reads_maybe_and_perhaps_as_hedges():
    from medviz.text.clinical import UNCERTAIN, findings_by_status, preprocess

    for text in ("maybe some photophobia", "perhaps photophobia"):
        assert findings_by_status(preprocess(text), UNCERTAIN) == ("photophobia",)


def test_the_clinical_reader_reads_cannot_exclude_as_a_hedge_however_written():
    """spaCy splits "cannot" into "can" + "not" and "can't" into "ca" + "n't" (NORM "can", "not"), so the rule written
    for "cannot exclude" never matched and "cannot exclude meningitis" was read as present (session 13)."""
    from medviz.text.clinical import UNCERTAIN, findings_by_status, preprocess

    for text in ("cannot exclude meningitis", "can't exclude meningitis", "cant rule out meningitis",
                 "could not exclude meningitis", "can not exclude meningitis", "couldn't rule out meningitis"):
        assert findings_by_status(preprocess(text), UNCERTAIN) == ("meningitis",), text
    assert findings_by_status(preprocess("could not walk, no meningitis"), "absent") == ("meningitis",)


@pytest.fixture(scope="module")
def rule_expert():
    return KnowledgeBaseBayes(_kb(), SYN, RULE_PHRASES)


@pytest.mark.parametrize("text, present, absent, uncertain", [
    ("Started on morphine, now possibly breathing slowly.", [], [], ["respiratory depression"]),
    ("Started on morphine, ?breathing slowly.", [], [], ["respiratory depression"]),  # "?" written onto the match
    ("Started on morphine, breathing slowly?", [], [], ["respiratory depression"]),
    ("Cough. He may be unable to move his legs.", ["cough"], [], ["unable to move legs"]),
    ("Denies breathing slowly.", [], ["respiratory depression"], []),
    ("If he cannot move his legs, call 999.", [], [], []),  # hypothetical: in none of the three
])
def test_phrase_rules_put_hedged_matches_in_uncertain(rule_expert, text, present, absent, uncertain):
    assert _names(rule_expert, text) == (present, absent, uncertain)


def test_the_red_flags_reading_of_phrase_rules_does_not_count_a_queried_sign(rule_expert):
    """PhraseRules.read (the red flags' reading): a "?" written onto a match makes it uncertain, as for the expert
    (session 13; it had been read as present), so it is in neither list."""
    rules = rule_expert._phrase_rules
    col = rules.column["respiratory depression"]
    assert rules.read("Started on morphine, ?breathing slowly.") == ([], [])
    assert rules.read_statuses("Started on morphine, ?breathing slowly.") == ([], [], [col])
    assert rules.read("Now possibly breathing slowly.") == ([], [])
    assert rules.read("Started on morphine, breathing slowly.") == ([col], [])


def test_a_queried_calf_swelling_raises_no_dvt_red_flag():
    """A newcomer's note "34F on the pill, sudden pleuritic chest pain and SOB after a long-haul flight, HR 118, ?calf
    swelling" named DVT with "red flag in the note: a swollen or tender calf" (session 13)."""
    from medviz.text.red_flags import load_red_flags

    flags = load_red_flags()
    note = "34F on the pill, sudden pleuritic chest pain and SOB after a long-haul flight, HR 118, {} swelling"
    queried = {c for c, _ in flags.raised(note.format("?calf"))}
    stated = {c for c, _ in flags.raised(note.format("left calf"))}
    assert "Deep vein thrombosis (DVT)" in stated - queried


# The 801-condition bundle: the scored CSV and the Case page from one reading.
HEDGED_NOTES = [
    "58M sudden severe headache while lifting, vomiting x2. ?neck stiffness. No fever.",
    "24F RIF pain 2 days, anorexia, nausea. Possibly some photophobia. Denies dysuria.",
    "Chest pain radiating to L arm, sweaty. r/o MI. Possible shortness of breath.",
    "Denies fever. ?haemoptysis",
    "Cough and fever for 3 days.",
]


@pytest.fixture(scope="module")
def differential():
    from medviz.bundle import load_bundle
    from medviz.text.predict import TextPredictor

    return TextPredictor.from_bundle(load_bundle(ROOT / "models" / "differential-801"))


def _split(cell: str) -> tuple[str, ...]:
    return tuple(cell.split("|")) if cell else ()


def test_801_scored_csv_fills_findings_uncertain_and_the_case_page_lists_the_same(differential):
    import pandas as pd

    from medviz.scoring import make_scorer
    from medviz.text.analyse import analyse_case

    chunk = pd.DataFrame({"note": HEDGED_NOTES + [""]})
    scorer = make_scorer(differential.bundle, text_column="note")
    out = scorer.score(chunk, scorer.prepare(chunk))
    uncertain = [_split(c) for c in out["findings_uncertain"]]
    # (the knowledge base's names: "neck stiffness or tightness", "symptoms of eye" for photophobia, "hemoptysis")
    assert uncertain[0] == ("neck stiffness or tightness",) and "neck" not in out["findings_present"].iloc[0]
    assert uncertain[1] == ("symptoms of eye",) and "eye" not in out["findings_present"].iloc[1]
    assert uncertain[2] == ("shortness of breath",) and uncertain[3] == ("hemoptysis",)
    assert uncertain[4] == () and uncertain[5] == ()
    assert _split(out["findings_absent"].iloc[3]) == ("fever",) and out["findings_present"].iloc[3] == ""
    for i, note in enumerate(HEDGED_NOTES):
        case = analyse_case(differential, note)
        for k, status in enumerate(("present", "absent", "uncertain")):
            column = _split(out[f"findings_{status}"].iloc[i])
            assert case.findings(status) == column == case.expert_findings[k], (i, status)


def test_801_a_note_with_denied_and_hedged_findings_is_not_every_finding_denied(differential):
    """"every finding denied" means every finding: a hedged one is not denied (analyse.py all_denied)."""
    from medviz.text.analyse import analyse_texts

    batch = analyse_texts(differential, ["Denies fever. ?haemoptysis", "Denies fever, cough or vomiting."])
    codes = [[w.code for w in ws] for ws in batch.warnings]
    assert batch.findings(0, "uncertain") == ("hemoptysis",) and batch.findings(0, "absent") == ("fever",)
    assert batch.findings(0, "present") == ()
    assert "every finding denied" not in codes[0]
    assert "every finding denied" in codes[1] and batch.findings(1, "uncertain") == ()
