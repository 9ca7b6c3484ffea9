"""Clinician-register text -> the words the diagnosis model was trained on, with negated findings removed.

The bundled model learned from short descriptions in a patient's voice ("I have a fever and my joints
hurt"). Clinicians write "58M, 3/7 productive cough, T 38.9, crackles R base, denies CP". This module
turns the second into something the model can read, in two steps, and says what it did:

1. **Normalisation** (:data:`RULES`): a curated, tested list of abbreviations, British/American
   spellings, medical terms and vital-sign patterns mapped to lay words found in the training text
   (SOB -> shortness of breath, pyrexia -> fever, T 38.9 -> fever, BP 165/100 -> high blood pressure).
   Each hit is returned as a :class:`Term` so the Case page can show what was recognised.
2. **Negation and hedging** (NegEx-style, Chapman et al. 2001): a cue ("no", "denies", "negative
   for", "without", "not", "rule out", "?") opens a scope that runs to the end of the clause or a
   terminator ("but", "however", "has", ...). Findings in a negated or hedged scope are removed from
   the text given to the model, and returned as :class:`ScopedFinding` so the page can show them.

Hand-written because the maintained options do not fit: negspacy needs a spaCy pipeline and model
weights (nothing may be downloaded at run time here) and its termsets target clinical notes, not
patient-voice training text; a curated rule list is small, inspectable and under test
(tests/text/test_clinical.py).

The same function runs in training (on the training texts), on the Case page and in CSV scoring;
the bundle manifest records :data:`PREPROCESSING_ID` and the analyser refuses to mix versions.
"""
from __future__ import annotations

import functools
import re
from typing import Callable

PREPROCESSING_ID = "medviz.text.clinical/2"


from medviz.text.clinical.types import (  # noqa: F401  (public names of this package)
    ABSENT, HISTORICAL, OTHER_PERSON, PRESENT, STATUSES, UNCERTAIN, Finding, Preprocessed, ScopedFinding, Term,
    VitalSign, findings_by_status, findings_of_kind,
)


# --------------------------------------------------------------------------------------------
# 1. normalisation

# (pattern, replacement, kind). Patterns are matched case-insensitively on word boundaries unless
# they start with "(?-i)". Order matters: longer phrases first.
_WORD_RULES: list[tuple[str, str, str]] = [
    # multi-token abbreviations
    (r"n\s*[/&+]\s*v", "nausea and vomiting", "abbreviation"),
    (r"d\s*[/&+]\s*v", "diarrhea and vomiting", "abbreviation"),
    (r"c\s*/\s*o", "complains of", "abbreviation"),
    (r"w\s*/\s*o", "without", "abbreviation"),
    (r"h\s*/\s*o", "history of", "abbreviation"),
    (r"s\s*/\s*p", "after", "abbreviation"),
    (r"r\s*/\s*o", "rule out", "abbreviation"),
    (r"h\s*/\s*a", "headache", "abbreviation"),
    (r"y\s*/\s*o|yrs?\s+old|yo", "year old", "abbreviation"),
    (r"w\s*/", "with", "abbreviation"),
    (r"nkda", "no drug allergies", "abbreviation"),
    # breathing
    (r"sob(?:oe)?", "shortness of breath", "abbreviation"),
    (r"doe", "shortness of breath on exertion", "abbreviation"),
    (r"dyspn(?:o|)ea(?:\s+on\s+exertion)?|dyspn(?:o|)eic|breathless(?:ness)?", "shortness of breath", "term"),
    (r"orthopn(?:o|)ea", "shortness of breath lying down", "term"),
    (r"tachypn(?:o|)e(?:a|ic)", "fast breathing", "term"),
    (r"wheez(?:e|y)", "wheezing", "term"),
    (r"crackles|crepitations|creps|rales|crepitus", "crackling sounds in the chest", "term"),
    (r"productive\s+cough", "cough with phlegm", "term"),
    (r"sputum", "phlegm", "term"),
    (r"haemoptysis|hemoptysis", "coughing up blood", "term"),
    (r"rhinorrh(?:o|)ea|coryza", "runny nose", "term"),
    (r"nasal\s+congestion|congested\s+nose", "stuffy nose", "term"),
    (r"pharyngitis|odynophagia", "sore throat", "term"),
    (r"urti", "cold", "abbreviation"),
    (r"lrti|cap", "chest infection", "abbreviation"),
    # fever and general
    (r"pyrexi(?:a|al)|febrile|feverish", "fever", "term"),
    (r"afebrile|apyrexial", "no fever", "term"),
    (r"rigou?rs", "shaking chills", "term"),
    (r"diaphore(?:sis|tic)", "sweating", "term"),
    (r"malaise", "feeling unwell", "term"),
    (r"lethargy|lethargic|fatigued?", "tiredness", "term"),
    (r"anorexia", "loss of appetite", "term"),
    (r"wt\s+loss", "weight loss", "abbreviation"),
    (r"lymphadenopathy", "swollen lymph nodes", "term"),
    # pain
    (r"cp", "chest pain", "abbreviation"),
    (r"cephalgia|cephalalgia", "headache", "term"),
    (r"arthralgias?", "joint pain", "term"),
    (r"myalgias?", "muscle pain", "term"),
    (r"retro-?orbital\s+pain", "pain behind the eyes", "term"),
    (r"abdo?|abd", "abdominal", "abbreviation"),
    (r"epigastric\s+(?:pain|discomfort|burning)", "upper stomach pain", "term"),
    (r"epigastri(?:um|c)", "upper stomach", "term"),
    (r"dyspepsia", "indigestion", "term"),
    (r"pyrosis", "heartburn", "term"),
    (r"regurgitation", "acid coming back up", "term"),
    (r"photophobia", "sensitivity to light", "term"),
    (r"phonophobia", "sensitivity to sound", "term"),
    (r"paraesthesia|paresthesia|paraesthesiae|paresthesias", "tingling and numbness", "term"),
    (r"neck\s+stiffness|nuchal\s+rigidity", "stiff neck", "term"),
    # gut and liver
    (r"emesis", "vomiting", "term"),
    (r"nauseated|nauseous", "nausea", "term"),
    (r"diarrhoea", "diarrhea", "spelling"),
    (r"haematemesis|hematemesis", "vomiting blood", "term"),
    (r"mela(?:e|)na", "black stools", "term"),
    (r"icterus|icteric|jaundiced", "yellow skin and eyes", "term"),
    (r"pale\s+stools?|acholic\s+stools?", "pale stool", "term"),
    (r"hepatomegaly", "enlarged liver", "term"),
    (r"splenomegaly", "enlarged spleen", "term"),
    # urinary
    (r"dysuria", "burning pain when urinating", "term"),
    (r"urinary\s+frequency|polyuria", "frequent urination", "term"),
    (r"nocturia", "urinating at night", "term"),
    (r"haematuria|hematuria", "blood in urine", "term"),
    (r"suprapubic", "lower abdominal", "term"),
    (r"polydipsia", "excessive thirst", "term"),
    (r"polyphagia", "excessive hunger", "term"),
    # skin
    (r"prurit(?:us|ic)", "itchy", "term"),
    (r"erythema(?:tous)?", "red", "term"),
    (r"vesic(?:les|ular)", "blisters", "term"),
    (r"pustules|pustular", "pus filled bumps", "term"),
    (r"papules|macules|maculopapular", "red spots", "term"),
    (r"plaques", "patches", "term"),
    (r"honey[- ]colou?red\s+crusts?", "yellow crusts", "term"),
    (r"desquamation|scaling", "peeling skin", "term"),
    (r"urticaria|hives", "itchy red bumps", "term"),
    # circulation / musculoskeletal
    (r"varicosities|varices", "varicose veins", "term"),
    (r"oedema|edema|swollen\s+ankles", "swelling", "term"),
    (r"htn", "high blood pressure", "abbreviation"),
    (r"palpitations", "heart racing", "term"),
    (r"t2dm|t1dm|dm|diabetes\s+mellitus", "diabetes", "abbreviation"),
    (r"bilat(?:eral)?", "both sides", "abbreviation"),
    (r"pmh|pmhx", "past history", "abbreviation"),
    (r"hx", "history", "abbreviation"),
    (r"sx", "symptoms", "abbreviation"),
    (r"pt", "patient", "abbreviation"),
    (r"(?-i:R)", "right", "abbreviation"),
    (r"(?-i:L)", "left", "abbreviation"),
]


def _age_sex(m: re.Match) -> str:
    sex = m.group("sex").lower()
    who = "man" if sex in ("m", "male") else "woman"
    return f"{m.group('age')} year old {who}"


def _temperature(m: re.Match) -> str:
    v = float(m.group("v"))
    fever = v >= 100.4 if v > 45 else v >= 38.0
    return "fever" if fever else ""


def _blood_pressure(m: re.Match) -> str:
    sys_, dia = int(m.group("s")), int(m.group("d"))
    return "high blood pressure" if sys_ >= 140 or dia >= 90 else ""


def _heart_rate(m: re.Match) -> str:
    return "fast heart rate" if int(m.group("v")) > 100 else ""


def _resp_rate(m: re.Match) -> str:
    return "fast breathing" if int(m.group("v")) > 20 else ""


def _saturation(m: re.Match) -> str:
    return "low oxygen shortness of breath" if int(m.group("v")) < 94 else ""


def _glucose(m: re.Match) -> str:
    v = float(m.group("v"))
    high = v >= 200 if v > 40 else v >= 11.1
    return "high blood sugar" if high else ""


_DURATION_UNITS = {"7": "days", "52": "weeks", "12": "months", "24": "hours"}


def _duration(m: re.Match) -> str:
    return f"for {m.group('n')} {_DURATION_UNITS[m.group('u')]}"


_NUM = r"(?P<v>\d{1,3}(?:\.\d)?)"
# (compiled pattern, replacement function, kind); these run before the word rules.
_PATTERN_RULES: list[tuple[re.Pattern, Callable[[re.Match], str], str]] = [
    (re.compile(r"\b(?:(?-i:T)|temp(?:erature)?)\s*(?:of|was|is|=|:)?\s*" + _NUM + r"\s*(?:°|deg(?:rees)?)?\s*[cf]?\b", re.I), _temperature, "vital sign"),
    (re.compile(r"\b(?:bp|blood\s+pressure)\s*(?:of|was|is|=|:)?\s*(?P<s>\d{2,3})\s*/\s*(?P<d>\d{2,3})(?:\s*mm\s*hg)?", re.I), _blood_pressure, "vital sign"),
    (re.compile(r"\b(?:hr|pulse|heart\s+rate|p)\s*(?:of|was|is|=|:)?\s*(?P<v>\d{2,3})(?:\s*(?:bpm|/min))?\b", re.I), _heart_rate, "vital sign"),
    (re.compile(r"\b(?:rr|resp(?:iratory)?\s+rate)\s*(?:of|was|is|=|:)?\s*(?P<v>\d{1,2})(?:\s*/min)?\b", re.I), _resp_rate, "vital sign"),
    (re.compile(r"\b(?:spo2|sats?|sao2|o2\s+sats?|oxygen\s+saturation)\s*(?:of|was|is|=|:)?\s*(?P<v>\d{2,3})\s*%?(?:\s*(?:on\s+)?(?:ra|room\s+air))?", re.I), _saturation, "vital sign"),
    (re.compile(r"\b(?:bm|bgl|cbg|glucose|blood\s+sugar|rbs|fbs)\s*(?:of|was|is|=|:)?\s*" + _NUM + r"(?:\s*(?:mmol/?l|mg/?dl))?", re.I), _glucose, "vital sign"),
    (re.compile(r"(?<![\d./])\b(?P<age>\d{1,3})\s*(?:y/?o|yrs?|years?[- ]old|yo)?\s*(?P<sex>m|f|male|female)\b(?!\s*/)", re.I), _age_sex, "age/sex"),
    (re.compile(r"(?<![\d/])(?P<n>\d{1,2})\s*/\s*(?P<u>7|52|12|24)\b(?!\s*/)"), _duration, "duration"),
    (re.compile(r"\bx\s*(?P<n>\d{1,2})\s*(?P<unit>days?|d|weeks?|wks?|months?|hours?|hrs?)\b", re.I),
     lambda m: f"for {m.group('n')} " + {"d": "days", "wk": "weeks", "wks": "weeks", "hr": "hours", "hrs": "hours"}.get(m.group("unit").lower(), m.group("unit").lower()),
     "duration"),
]

# A cheap necessary condition per pattern rule (same order as _PATTERN_RULES), checked on the text as
# it stands before that rule runs (ASCII texts only: there re.I folds exactly like str.lower). A rule
# whose keyword is absent cannot match, so its regex scan (~20 µs on this CPU) is skipped.
_PATTERN_HINTS: list[Callable[[str, str], bool]] = [
    lambda s, low: "T" in s or "temp" in low,
    lambda s, low: "bp" in low or "blood" in low,
    lambda s, low: True,  # heart rate: "p 92" is enough
    lambda s, low: "rr" in low or "resp" in low,
    lambda s, low: "sat" in low or "o2" in low or "oxygen" in low,
    lambda s, low: any(k in low for k in ("bm", "bgl", "cbg", "glucose", "blood", "rbs", "fbs")),
    lambda s, low: True,  # age/sex
    lambda s, low: "/" in s,
    lambda s, low: "x" in low,
]

# All word rules in one alternation, scanned once (earlier rules win at the same position): one
# pass instead of ~90 keeps preprocessing fast enough for batch scoring.
_WORD_RE = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z])(?:" + "|".join(f"(?:{pat})" for pat, _, _ in _WORD_RULES) + r")(?![A-Za-z0-9])",
    re.I,
)
# No capture groups in _WORD_RE (they halve its speed): the rule that matched is the first whose
# pattern fully matches the matched text. Keys are rule hits (bounded by the rule list), not cases.
_WORD_FULL = [(re.compile(f"(?:{pat})", re.I), rep, kind) for pat, rep, kind in _WORD_RULES]
_RULE_FOR: dict[str, tuple[str, str]] = {}


def _rule_for(matched: str) -> tuple[str, str]:
    hit = _RULE_FOR.get(matched)
    if hit is None:
        hit = next(((rep, kind) for rx, rep, kind in _WORD_FULL if rx.fullmatch(matched)), (matched, "term"))
        if len(_RULE_FOR) < 10_000:
            _RULE_FOR[matched] = hit
    return hit


_HAS_DIGIT = re.compile(r"\d")

# Word lists behind the batch prefilter (_re2_prefilters, used by preprocess_many): a word rule can
# only match at the start of an alphanumeric run that equals a token in _RULE_TOKENS, starts a
# multi-word rule of _RULE_PAIRS, or is a one-letter abbreviation (n/v, c/o, w/o, s/p ...: these need
# a "/", "&" or "+") or the upper-case R/L side markers. Keep these in step with _WORD_RULES:
# tests/text/test_clinical_fastpath.py checks every rule's spellings and a corpus against the full path.
_RULE_TOKENS = frozenset(
    """yo yr yrs nkda sob soboe doe urti lrti cap cp abd abdo htn pmh pmhx hx sx pt dm t2dm t1dm bilat bilateral
    dyspnoea dyspnea dyspnoeic dyspneic breathless breathlessness orthopnoea orthopnea tachypnoea tachypnea
    tachypnoeic tachypneic wheeze wheezy crackles crepitations creps rales crepitus sputum haemoptysis hemoptysis
    rhinorrhoea rhinorrhea coryza pharyngitis odynophagia pyrexia pyrexial febrile feverish afebrile apyrexial
    rigors rigours diaphoresis diaphoretic malaise lethargy lethargic fatigue fatigued anorexia lymphadenopathy
    cephalgia cephalalgia arthralgia arthralgias myalgia myalgias epigastric epigastrium dyspepsia pyrosis
    regurgitation photophobia phonophobia paraesthesia paresthesia paraesthesiae paresthesias emesis nauseated
    nauseous diarrhoea haematemesis hematemesis melaena melena icterus icteric jaundiced hepatomegaly splenomegaly
    dysuria polyuria nocturia haematuria hematuria suprapubic polydipsia polyphagia pruritus pruritic erythema
    erythematous vesicles vesicular pustules pustular papules macules maculopapular plaques desquamation scaling
    urticaria hives varicosities varices oedema edema palpitations retroorbital""".split()
)
# Multi-word rules: first word -> how the next word must start.
_RULE_PAIRS = {
    "productive": "cough", "nasal": "congestion", "congested": "nose", "wt": "loss", "retro": "orbital",
    "neck": "stiffness", "nuchal": "rigidity", "pale": "stool", "acholic": "stool", "urinary": "frequency",
    "honey": "colo", "swollen": "ankles", "diabetes": "mellitus",
}
_SLASH_LETTERS = frozenset("ncwhsrydNCWHSRYD")


# Where a rule can start: Python's re tries every alternative of _WORD_RE / _CUE_RE at every position
# (~100 µs a case on this CPU). A match can only begin where an ASCII alphanumeric run begins and that
# run is one of these first words (the same lists as the prefilter, tested against the full scan), so
# the scans below try the rule regex only there. Texts with non-ASCII characters take the plain scan
# (re.I folds a few non-ASCII letters onto ASCII ones, e.g. the Kelvin sign onto "k").
_WORD_FIRST = frozenset(_RULE_TOKENS | set(_RULE_PAIRS) | {c.lower() for c in _SLASH_LETTERS} | {"r", "l"})  # R/L sides


_LOW_RUNS = re.compile(r"[a-z0-9]+").findall


def _run_starts(low: str, words: frozenset, pos: int = 0) -> list[int]:
    """Sorted start offsets (>= ``pos``) of the alphanumeric runs of ``low`` (an ASCII, lower-cased
    text) that are one of ``words``. C-level findall/find instead of a Python loop over every run."""
    present = words.intersection(_LOW_RUNS(low, pos))
    starts: list[int] = []
    n = len(low)
    for w in present:
        i = low.find(w, pos)
        while i >= 0:
            end = i + len(w)
            if (i == 0 or not low[i - 1].isalnum()) and (end == n or not low[end].isalnum()):
                starts.append(i)
            i = low.find(w, i + 1)
    starts.sort()
    return starts


def _word_sub(repl: Callable[[re.Match], str], s: str) -> str:
    """``_WORD_RE.sub(repl, s)``, trying the rule regex only where a rule's first word begins."""
    if not s.isascii():
        return _WORD_RE.sub(repl, s)
    out: list[str] = []
    last = 0
    for start in _run_starts(s.lower(), _WORD_FIRST):
        if start < last:
            continue
        m = _WORD_RE.match(s, start)
        if m:
            out.append(s[last:start])
            out.append(repl(m))
            last = m.end()
    if not out:
        return s
    out.append(s[last:])
    return "".join(out)


_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:!?])")


def normalise(text: str, *, words: bool = True, tidy: bool = True, terms_out: bool = True) -> tuple[str, tuple[Term, ...]]:
    """Rewrite clinician register into the model's lay vocabulary; return the text and the terms hit.

    The batch path (:func:`preprocess_many`) passes ``tidy=False`` (it tidies the spaces of the whole
    batch in one RE2 pass) and ``terms_out=False`` (it only needs the text)."""
    terms: list[Term] = []

    def record(m: re.Match, out: str, kind: str) -> str:
        if terms_out and m.group(0).strip().lower() != out.lower():
            terms.append(Term(text=m.group(0).strip(), meaning=out, kind=kind))
        return f" {out} " if out else " "

    s = text
    if _HAS_DIGIT.search(s):  # every pattern rule needs a number
        ascii_ = s.isascii()
        for (pattern, fn, kind), hint in zip(_PATTERN_RULES, _PATTERN_HINTS):
            if ascii_ and not hint(s, s.lower()):
                continue
            s = pattern.sub(lambda m: record(m, fn(m), kind), s)

    def word(m: re.Match) -> str:
        rep, kind = _rule_for(m.group(0))
        return record(m, rep, kind)

    if words:  # False only when the batch prefilter has ruled every word rule out
        s = _word_sub(word, s)
    if not tidy:
        return s, tuple(terms)
    s = _SPACES.sub(" ", s)
    s = _SPACE_BEFORE_PUNCT.sub(r"\1", s)
    return s.strip(), tuple(terms)


# --------------------------------------------------------------------------------------------
# 2. negation and hedging (NegEx-style scope rules)

_NEG_CUES = [
    "no evidence of", "no signs? of", "no history of", "no complaints? of", "negative for", "absence of", "absent",
    "free of", "denies", "denied", "denying", "deny", "without", "never had", "no",
    "don't have", "do not have", "doesn't have", "does not have", "didn't have", "did not have",
    "haven't had", "have not had", "hasn't had", "has not had", "not had", "not have", "not having",
    "nor",
]
# Bare "not", "don't", "never" are NOT cues: in patient-voice text they usually state a finding
# ("my cuts don't heal", "I'm not emptying my bladder completely").
_HEDGE_CUES = [
    "rule out", "ruled out", "query", "possible", "possibly", "suspected", "suspect", "suspicion of",
    "questionable", "differential includes", "concern for", "\\?",
]
# Words after a cue that make it a finding in itself ("no appetite" = loss of appetite) or not a
# negation of a finding ("no improvement in the cough").
_PSEUDO_NEXT = {
    "appetite", "energy", "strength", "sleep", "sleeping", "hungry", "hunger", "well", "good", "able", "stop",
    "control", "focus", "concentrate", "relief", "improvement", "improving", "improved", "better", "change",
    "changes", "go", "going", "help", "helping", "helped", "matter", "only", "sure", "know", "seem", "seems",
    "think", "feel", "feeling", "eat", "eating", "breathe", "breathing", "move", "walk", "walking", "longer",
    "much", "very", "really", "get", "getting", "want", "like", "doubt", "interest", "desire", "taste", "smell",
    "one", "matter", "until", "since", "that", "enough", "lose", "keep", "bear", "sense", "them", "it",
    "becoming", "reason", "warning", "cause", "trying", "doing", "effort", "me", "my", "apparent", "obvious",
    "known", "medication", "medicine", "treatment", "relief", "food", "eating", "stopping",
}
_FILLER = {"been", "be", "a", "an", "any", "the", "really", "very", "got", "to", "having", "had", "have", "so", "too", "as"}
_TERMINATORS = {
    "but", "however", "although", "though", "except", "apart", "aside", "yet", "which", "who", "whereas",
    "presents", "presenting", "presented", "reports", "reporting", "complains", "complaining", "has", "have",
    "had", "is", "are", "was", "were", "now", "still", "developed", "noted", "notes", "started", "starting",
    "also", "then", "since",
}
_MAX_SCOPE_TOKENS = 10

_CUE_RE = re.compile(
    r"(?<![A-Za-z0-9'])(?=[A-Za-z])(?:(?P<cue>"
    + "|".join(c.replace(" ", r"\s+").replace("'", "['’]?") for c in _NEG_CUES)
    + r")(?![A-Za-z0-9'])|(?P<hedge>"
    + "|".join(c.replace(" ", r"\s+") for c in _HEDGE_CUES if c != "\\?")
    + r")(?![A-Za-z0-9]))|(?P<qmark>\?)(?=\s*[A-Za-z])",
    re.I,
)
_CLAUSE_RE = re.compile(r"[.;:!\n]+|\?(?=\s|$)")
_TOKEN_RE = re.compile(r"[A-Za-z0-9']+|,")
_OR_NOR = re.compile(r"\b(?:or|nor)\b", re.I)


def _scope_end(clause: str, start: int, cue: str, hedge: bool) -> tuple[int, str]:
    """End offset (in ``clause``) of the scope that starts at ``start``, and its text.

    Reads tokens lazily: a scope stops within a few words, and clauses can be long."""
    first = None  # the first word after the cue that is not filler
    has_word = False
    for t in _TOKEN_RE.finditer(clause, start):
        w = t.group()
        if w == ",":
            continue
        has_word = True
        if hedge:
            break
        if w.lower() not in _FILLER:
            first = w.lower()
            break
    if not has_word:
        return start, ""
    if not hedge and (first or "").replace("’", "'") in _PSEUDO_NEXT:
        return start, ""
    end = start
    n = 0
    commas_seen = False
    list_ends_with_or = _OR_NOR.search(clause, start) is not None
    for t in _TOKEN_RE.finditer(clause, start):
        w = t.group().lower()
        if w == ",":
            commas_seen = True
            # "no fever, productive cough": a bare "no"/"not" stops at the comma unless the clause is an
            # "a, b or c" list; "denies a, b, c" lists run on.
            if cue.lower() in ("no", "not", "never") and not list_ends_with_or:
                break
            continue
        if w in _TERMINATORS or (n >= _MAX_SCOPE_TOKENS):
            break
        if commas_seen and _CUE_RE.match(clause, t.start()):
            break
        end = t.end()
        n += 1
    return end, clause[start:end].strip(" ,")


# Words behind the batch prefilter's cue scan: a cue can only match if the case has a "?" or one of
# these words; the multi-word cues ("don't have", "has not had", ...) all have a word of _NEG_VERB_A
# followed by one of _NEG_VERB_B.
_CUE_WORDS = frozenset(
    "no negative absence absent free denies denied denying deny without never nor rule ruled query possible "
    "possibly suspected suspect suspicion questionable differential concern".split()
)
_NEG_VERB_A = frozenset("don dont doesn doesnt didn didnt haven havent hasn hasnt not".split())
_NEG_VERB_B = frozenset("have had having".split())


def _cue_first_words(cues: list[str]) -> frozenset:
    """The words a cue can begin with, as an ASCII alphanumeric run ("don't" -> "don" and "dont")."""
    out = set()
    for cue in cues:
        first = cue.split(" ")[0]
        out.update({first.split("'")[0].lower(), first.replace("'", "").lower()})
    return frozenset(out)


_CUE_FIRST = _cue_first_words([c for c in _NEG_CUES + _HEDGE_CUES if c != "\\?"])


def _find_cue(clause: str, pos: int) -> re.Match | None:
    """``_CUE_RE.search(clause, pos)``, trying the cue regex only where a cue word or "?" begins."""
    if not clause.isascii():
        return _CUE_RE.search(clause, pos)
    starts = _run_starts(clause.lower(), _CUE_FIRST, pos)
    if "?" in clause[pos:]:  # "?" is a hedging cue of its own
        starts = sorted(starts + [i for i, ch in enumerate(clause) if ch == "?" and i >= pos])
    for start in starts:
        m = _CUE_RE.match(clause, start)
        if m:
            return m
    return None


def find_scopes(text: str, *, cues: bool = True, tidy: bool = True) -> tuple[str, tuple[ScopedFinding, ...]]:
    """Remove negated/hedged scopes (and their cues) from ``text``; return the rest and what was removed."""
    found: list[ScopedFinding] = []
    pieces: list[str] = []
    # cues=False only when the batch prefilter has ruled every cue out
    bounds = [m.end() for m in _CLAUSE_RE.finditer(text)] if cues else []
    for cs, ce in zip([0] + bounds, bounds + [len(text)]):
        clause = text[cs:ce]
        cpos = 0
        while True:
            m = _find_cue(clause, cpos)
            if not m:
                break
            hedge = m.group("cue") is None
            cue = m.group("hedge") or m.group("qmark") or m.group("cue")
            end, scope = _scope_end(clause, m.end(), cue, hedge)
            if not scope:  # pseudo-negation ("no appetite") or a cue with nothing after it: leave as typed
                cpos = m.end()
                continue
            kind = "hedged" if hedge else "negated"
            found.append(ScopedFinding(text=scope, cue=re.sub(r"\s+", " ", cue.strip()).lower(), kind=kind))
            clause = clause[: m.start()] + " " + clause[end:]
            cpos = m.start() + 1
        pieces.append(clause)
    if not tidy:  # the batch path: spaces and stray commas do not change the tokens the model reads
        return "".join(pieces), tuple(found)
    model_text = re.sub(r"\s+", " ", "".join(pieces))
    model_text = re.sub(r"\s+([,.;:!?])", r"\1", model_text)
    model_text = re.sub(r"(?:,\s*){2,}", ", ", model_text)
    model_text = re.sub(r"([.;:!?])\s*,", r"\1", model_text)
    return model_text.strip(" ,"), tuple(found)


def preprocess(text: str) -> Preprocessed:
    """Normalise clinician register, then remove negated and hedged findings. Pure and deterministic."""
    normalised, terms = normalise(str(text))
    model_text, scopes = find_scopes(normalised)
    low = str(text).lower()
    findings = []
    for f in scopes:
        at = low.find(f.text.lower())
        findings.append(Finding(phrase=f.text.lower(), status=ABSENT if f.kind == "negated" else UNCERTAIN,
                                start=at, end=at + len(f.text) if at >= 0 else -1))
    return Preprocessed(original=str(text), model_text=model_text, terms=terms, negated=scopes,
                        findings=tuple(findings))


@functools.lru_cache(maxsize=1)
def _re2_prefilters() -> tuple[str, str]:
    """RE2 patterns (for tf.strings.regex_full_match) that are true for every text where a word rule,
    a vital-sign/duration rule (they all need a digit) or a negation/hedging cue could apply.

    Supersets of the Python rules: a false positive only sends a text down the full Python path.
    RE2's \\b is not the rules' boundary (it counts "_"), so boundaries are spelled out."""
    b, e = "(?:^|[^A-Za-z0-9])", "(?:[^A-Za-z0-9]|$)"
    pairs = "|".join(f"{a}[^A-Za-z0-9]+{z}" for a, z in _RULE_PAIRS.items())
    word = (
        f"(?s).*(?:\\p{{Nd}}|(?i:{b}(?:{'|'.join(sorted(_RULE_TOKENS))}){e})|(?i:{b}(?:{pairs}))"
        f"|(?i:{b}[{''.join(sorted({c.lower() for c in _SLASH_LETTERS}))}]\\s*[/&+])|{b}[RL]{e}).*"
    )
    cue = (
        f"(?s).*(?:\\?|(?i:{b}(?:{'|'.join(sorted(_CUE_WORDS))}){e})"
        f"|(?i:{b}(?:{'|'.join(sorted(_NEG_VERB_A))})[^A-Za-z0-9](?:.*[^A-Za-z0-9])?(?:{'|'.join(sorted(_NEG_VERB_B))}){e})).*"
    )
    return word, cue


def rule_stages(texts: list[str]) -> tuple["np.ndarray", "np.ndarray"]:
    """Per text: could a word or vital-sign rule apply (``words``)? could a negation/hedging cue (``cues``)?

    Scanning the Python rules costs ~0.3 ms per case; most cases in a batch contain none. Two RE2
    scans (tensorflow's vectorised C++ regex, linear time in the text) find the ones that do, and
    which stage they need. A cue can also be introduced by normalisation ("w/o" -> "without"), so
    ``cues`` is true wherever ``words`` is."""
    import numpy as np
    import tensorflow as tf

    if not texts:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    word, _ = _re2_prefilters()
    words = tf.strings.regex_full_match(tf.constant(texts), word).numpy()
    return words, _cue_prefilter(texts) | words


_SEPARATORS_1C_1F = re.compile("[\x1c-\x1f]")


def _tidy_many(texts: list[str]) -> list[str]:
    """``normalise``'s closing tidy-up (_SPACES, _SPACE_BEFORE_PUNCT, strip) for a batch: two RE2
    passes in tensorflow for ASCII texts (same result: the patterns are ASCII); Python for the rest
    (str.strip also removes Unicode spaces)."""
    import tensorflow as tf

    # Python's strip also removes \x1c-\x1f (ASCII separators); RE2's does not: those go to Python
    plain = [i for i, t in enumerate(texts) if t.isascii() and not _SEPARATORS_1C_1F.search(t)]
    out = list(texts)
    if plain:
        t = tf.constant([texts[i] for i in plain])
        t = tf.strings.regex_replace(tf.strings.regex_replace(t, _SPACES.pattern, " "), _SPACE_BEFORE_PUNCT.pattern, r"\1")
        for i, b in zip(plain, tf.strings.strip(t).numpy().tolist()):
            out[i] = b.decode("ascii")
    done = set(plain)
    for i, text in enumerate(texts):
        if i not in done:
            out[i] = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()
    return out


def _cue_prefilter(texts: list[str]) -> "np.ndarray":
    import numpy as np
    import tensorflow as tf

    if not texts:
        return np.zeros(0, dtype=bool)
    return tf.strings.regex_full_match(tf.constant(texts), _re2_prefilters()[1]).numpy()


def needs_rules(texts: list[str]) -> "np.ndarray":
    """Boolean per text: could any normalisation or negation rule change what the model reads?"""
    words, cues = rule_stages(texts)
    return words | cues


def preprocess_many(texts: list[str]) -> list[str]:
    """The model texts for a batch (training and CSV scoring use this; the Case page uses preprocess).

    Texts no rule can touch are passed as typed: :func:`preprocess` would only tidy their spaces and
    punctuation, which the model's tokenizer discards anyway, so the model reads the same tokens
    (tests/text/test_clinical_fastpath.py). For the same reason the batch path skips the final tidying
    after the negation step (normalisation's is kept: it decides where a clause ends)."""
    import numpy as np

    texts = [str(t) for t in texts]
    words, cues = rule_stages(texts)
    out = list(texts)
    hit = np.flatnonzero(words)
    normalised = [normalise(texts[i], tidy=False, terms_out=False)[0] for i in hit]
    # normalise's tidying, for the batch at once ("?" before a space ends a clause for the scopes)
    for i, text in zip(hit, _tidy_many(normalised)):
        out[i] = text
    if hit.size:  # normalisation can bring a cue in ("afebrile" -> "no fever"): look again
        cues[hit] = _cue_prefilter([out[i] for i in hit])
    for i in np.flatnonzero(cues):
        out[i] = find_scopes(out[i], cues=True, tidy=False)[0]
    return out


# --------------------------------------------------------------------------------------------
# 3. training-time augmentation towards the clinician register

_TELEGRAPHIC_DROP = {
    "i", "i'm", "im", "i've", "ive", "i'd", "my", "me", "myself", "have", "has", "had", "been", "having", "feel",
    "feeling", "felt", "really", "also", "a", "an", "the", "lot", "very", "lately", "recently", "quite", "just",
    "so", "too", "it's", "its", "is", "am", "are", "was", "were", "that", "this", "of", "all", "some", "bit",
    "pretty", "kind", "sort", "seem", "seems", "like", "get", "getting", "got", "do", "did", "experiencing",
    "suffering", "noticed", "notice", "from", "constantly", "always", "often", "sometimes",
}
_WORD_SPLIT = re.compile(r"[A-Za-z0-9'’]+|[.,;]")


def telegraphic(text: str, rng) -> str:
    """A terse, note-like rewrite of a patient-voice sentence ("I have been having a high fever and
    chills" -> "58 year old woman, high fever, chills"), so training does not tie the clinician
    register to "out of scope". ``rng`` is a numpy Generator (seeded by the caller)."""
    words = []
    for tok in _WORD_SPLIT.findall(text):
        low = tok.lower().replace("’", "'")
        if low in _TELEGRAPHIC_DROP:
            continue
        if low == "and" and rng.random() < 0.5:
            words.append(",")
            continue
        words.append(tok if tok in ".,;" else low)
    out = " ".join(words)
    out = re.sub(r"\s+([.,;])", r"\1", out)
    out = re.sub(r"([.,;])(?:\s*[.,;])+", r"\1", out).strip(" ,.;")
    if rng.random() < 0.6:
        age = int(rng.integers(18, 85))
        out = f"{age} year old {'man' if rng.random() < 0.5 else 'woman'}, {out}"
    return out
