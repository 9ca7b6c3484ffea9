"""The batch fast path of clinical preprocessing must give the model exactly the tokens of the full path."""
from __future__ import annotations

import re

import pytest

from medviz.text import clinical as C

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


def test_every_rule_spelling_is_caught_by_the_prefilter():
    sentences = [f"I have {word} today" for word in " ".join(RULE_SPELLINGS).split()]
    words, _ = C.rule_stages(sentences)
    for sentence, caught in zip(sentences, words):
        if C._WORD_RE.search(sentence):
            assert caught, sentence


def test_prefilter_lets_plain_patient_text_through_and_catches_cues():
    plain = "I have been coughing a lot and my chest feels tight when I breathe in."
    flagged = C.needs_rules([plain, "denies chest pain", "SOB on exertion", "T 38.9", "has not had a stool", "fever?"])
    assert flagged.tolist() == [False, True, True, True, True, True]
    assert C.preprocess_many([plain]) == [plain]


def test_hematuria_spellings_are_normalised():
    for spelling in ("haematuria", "hematuria"):
        assert "blood in urine" in C.preprocess(f"painless {spelling} for a week").model_text
