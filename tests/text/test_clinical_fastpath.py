"""The batch fast path of clinical preprocessing must give the model exactly the tokens of the full path."""
from __future__ import annotations

import re

import pytest

from medviz.text import clinical as C
from medviz.text.clinical import assertion  # noqa: F401  (C.assertion)

# Every spelling each word rule accepts, plus multi-word and symbol rules, in running text.
RULE_SPELLINGS = """
n/v N & V d/v c/o w/o h/o s/p r/o h/a y/o yrs old 45 yo w/ cough nkda SOB SOBOE DOE dyspnoea dyspnea on exertion
dyspnoeic dyspneic breathless breathlessness orthopnoea orthopnea tachypnoea tachypneic wheeze wheezy crackles
crepitations creps rales crepitus productive cough sputum haemoptysis hemoptysis rhinorrhoea rhinorrhea coryza
nasal congestion congested nose pharyngitis odynophagia URTI LRTI CAP pyrexia pyrexial febrile feverish afebrile
apyrexial rigors rigours diaphoresis diaphoretic malaise lethargy lethargic fatigue fatigued anorexia wt loss
lymphadenopathy CP cephalgia cephalalgia arthralgia arthralgias myalgia myalgias retro-orbital pain retroorbital pain
abdo abd epigastric pain epigastric discomfort epigastrium dyspepsia pyrosis regurgitation photophobia phonophobia
paraesthesia paresthesia paraesthesiae paresthesias neck stiffness nuchal rigidity emesis nauseated nauseous
diarrhoea haematemesis hematemesis melaena melena icterus icteric jaundiced pale stools acholic stool hepatomegaly
splenomegaly dysuria urinary frequency polyuria nocturia haematuria hematuria suprapubic polydipsia polyphagia
pruritus pruritic erythema erythematous vesicles vesicular pustules pustular papules macules maculopapular plaques
honey-coloured crusts honey colored crust desquamation scaling urticaria hives varicosities varices oedema edema
swollen ankles HTN palpitations T2DM t1dm DM diabetes mellitus bilat bilateral PMH pmhx hx sx pt R base L leg
""".split("\n")

CASES = [
    "I have been feeling tired and my joints ache all the time.",
    "58M, 3/7 productive cough, T 38.9, crackles R base, denies chest pain",
    "No fever, no rash. Mild headache?",
    "Patient complains of constipation. Has not had BM for two days",
    "I don't have a cough but I haven't had any appetite",
    "She doesnt have diarrhea; possible UTI. BP 150/95, HR 110, sats 91% on RA",
    "rule out pneumonia; query sepsis; concern for meningitis; negative for rash; without vomiting",
    "My skin is itchy and I_n/v keep scratching",  # underscore before a one-letter rule
    "x3 days of pain, 2/52 cough, 24F",
    "I'm not sure what is going on, I can't sleep and I have no energy",
    "",
    "   ",
    "多日发热 and cough",
]


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@pytest.mark.parametrize("text", [line for line in RULE_SPELLINGS if line.strip()] + CASES)
def test_fast_path_reads_the_same_tokens(text):
    assert tokens(C.preprocess_many([text])[0]) == tokens(C.preprocess(text).model_text)


def test_hematuria_spellings_are_normalised():
    for spelling in ("haematuria", "hematuria"):
        assert "blood in urine" in C.preprocess(f"painless {spelling} for a week").model_text


def _corpus() -> list[str]:
    """Rule spellings and cues in running text, jammed against punctuation and each other, upper and
    lower case, plus the robustness vignettes (clinician register, written for this project)."""
    import json
    import random
    from pathlib import Path

    words = " ".join(RULE_SPELLINGS).split() + sorted(C.assertion._cue_words())[::3]
    words += ["don't have", "dont have", "has not had", "?", "fever", "cough", "and", "I", "x3", "no", "R", "L"]
    words += ["T 38.9", "temp 37.2", "Temperature: 101.2F", "BP 150/95", "blood pressure 120/80", "HR 110", "p 92",
              "pulse of 64", "RR 24", "resp rate 12", "sats 91%", "SpO2 95% on RA", "o2 sat 88", "BM 14.2",
              "glucose 250 mg/dl", "blood sugar 6", "24F", "58 yo M", "70 year-old female", "3/7", "2/52", "12/12",
              "x3 days", "x 2 wks", "X4 hrs", "37.0/7", "fever-", "cough+", ": no", "- denies", "neither", "nor",
              "mother", "h/o", "?UTI", "UTI?", "not present", "ruled out", "Sat 14", "walk 50 m", "knee cap"]
    # every alternative of every ConText rule token, so that a multi-token rule's words meet in any order
    for rule in C.assertion._context_document()["context_rules"]:
        words.append(rule["literal"])
        for tok in rule.get("pattern") or ():
            low = tok.get("LOWER", tok.get("NORM"))
            words += low["IN"] if isinstance(low, dict) else [low] if isinstance(low, str) and "__" not in low else []
    rng = random.Random(0)
    seps = [" ", ", ", ",", "/", ". ", "; ", "-", " (", ") ", ")", "?", " ? ", "  ", "\n", "'", ":", " - ", "+"]
    texts = list(CASES) + [line for line in RULE_SPELLINGS if line.strip()]
    for _ in range(3200):  # enough texts with a digit (> 500) now that more rule words share the draw
        parts = [rng.choice(words) for _ in range(rng.randint(1, 8))]
        parts = [p.upper() if rng.random() < 0.2 else p for p in parts]
        texts.append("".join(p + rng.choice(seps) for p in parts))
    path = Path(__file__).resolve().parents[1] / "data" / "robustness.jsonl"
    texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    return texts


def test_candidate_scans_equal_the_plain_regex_scans():
    from medviz.text.clinical import abbreviations as A

    mark = lambda m: f"<{m.group(0)}>"  # noqa: E731
    for text in _corpus():
        assert A._word_sub(mark, text) == A._WORD_RE.sub(mark, text), text


def test_fast_path_reads_the_same_tokens_on_a_large_corpus():
    corpus = _corpus()
    fast = C.preprocess_many(corpus)
    full = C.preprocess_all(corpus)
    for text, got, pre in zip(corpus, fast, full):
        assert tokens(got) == tokens(pre.model_text), text


def test_context_prefilter_skips_only_notes_without_modifiers():
    """A note the prefilter clears must read exactly as ConText reads it: every finding present."""
    from medviz.text.clinical import assertion

    nlp = assertion.pipeline()
    cleared = [t for t in _corpus() if not assertion.needs_context(t)]
    assert len(cleared) > 300
    for text, doc in zip(cleared, nlp.pipe(cleared)):
        reading = assertion.reading_of(doc)
        assert reading.drop == () and all(f.status == "present" for f in reading.findings), text
        assert reading.findings == assertion.present_only(text).findings, text


def test_pattern_rule_hints_skip_only_rules_that_cannot_match(monkeypatch):
    from medviz.text.clinical import abbreviations as A

    corpus = [t for t in _corpus() if A._HAS_DIGIT.search(t)]
    assert len(corpus) > 500
    hinted = [A.normalise(t) for t in corpus]
    monkeypatch.setattr(A, "_PATTERN_HINTS", [lambda s, low: True] * len(A._PATTERN_RULES))
    assert [A.normalise(t) for t in corpus] == hinted


def test_run_context_equals_the_library_call():
    """run_context (ConText without the modifiers that cannot change anything) gives the same reading
    as medspaCy's own ConText call on every corpus note with a cue."""
    from medviz.text.clinical import assertion

    nlp = assertion.pipeline()
    context = nlp.get_pipe("medspacy_context")
    texts = [t for t in _corpus() if assertion.needs_context(t)]
    assert len(texts) > 1000
    ours = [assertion.reading_of(assertion.run_context(context, d))
            for d in nlp.pipe(texts, disable=["medspacy_context"])]
    for text, mine, doc in zip(texts, ours, nlp.pipe(texts)):
        assert mine == assertion.reading_of(doc), text


def test_context_rule_subsets_give_the_library_matchers_matches_in_its_order():
    """ConText's modifier matches from only the rules that can match each doc (assertion._RuleSubsets) are the
    library matcher's matches, in its order, on whole notes and on the single sentences the phrase rules parse."""
    from medviz.text.clinical import assertion
    from medviz.text.synth.phrase_rules import _SENTENCES

    nlp = assertion.pipeline()
    context = nlp.get_pipe("medspacy_context")
    notes = _corpus()
    texts = notes + [s for t in notes[:1500] for s in _SENTENCES.split(t)] + [
        "", "Denies CP, SOB. ?PE. No h/o DVT", "fever-, cough+", "cannot exclude meningitis", "mother has diabetes",
        "return if worse", "no fever or rigors but reports cough", "not known to have been diagnosed with asthma"]
    docs = list(nlp.pipe(texts, disable=["medspacy_target_matcher", "medspacy_context"]))
    library = context._ConText__matcher
    assert assertion._RuleSubsets(context).usable
    got = [assertion._modifier_matches(context, d) for d in docs]
    assert got == [library(d) for d in docs]
    assert sum(len(g) > 1 for g in got) > 1000  # notes with several modifiers: the order is tested


def test_context_rule_subsets_step_aside_for_a_rule_they_cannot_index():
    """A rule the index cannot read (here a regular expression) leaves every doc to the library's matcher."""
    import spacy
    from medspacy.context import ConText, ConTextRule  # noqa: F401

    from medviz.text.clinical import assertion

    nlp = spacy.blank("en")
    context = nlp.add_pipe("medspacy_context", config={"rules": None})
    context.add([ConTextRule("no", "NEGATED_EXISTENCE", pattern=[{"LOWER": "no"}]),
                 ConTextRule("r/o", "POSSIBLE_EXISTENCE", pattern=r"r/o")])
    assert not assertion._RuleSubsets(context).usable
    doc = nlp.make_doc("no fever, r/o sepsis")
    assert assertion._modifier_matches(context, doc) == context._ConText__matcher(doc)
    assert len(assertion._modifier_matches(context, doc)) == 2
