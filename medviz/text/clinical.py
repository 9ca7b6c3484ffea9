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

import re
from dataclasses import dataclass
from typing import Callable

PREPROCESSING_ID = "medviz.text.clinical/2"


@dataclass(frozen=True)
class Term:
    """A clinician-register expression that was recognised and rewritten for the model."""

    text: str  # as typed
    meaning: str  # what the model was given instead ("" = dropped, e.g. a normal vital sign)
    kind: str  # "abbreviation", "term", "spelling", "vital sign", "age/sex", "duration"


@dataclass(frozen=True)
class ScopedFinding:
    """Words read as absent (negated) or uncertain (hedged); they do not reach the model."""

    text: str  # the words in scope, as given to the negation step (after normalisation)
    cue: str  # the trigger, e.g. "denies"
    kind: str  # "negated" or "hedged"


def findings_of_kind(scopes, kind: str) -> tuple[str, ...]:
    """The texts of the scoped findings of one kind ("negated" or "hedged"), in reading order."""
    return tuple(f.text for f in scopes if f.kind == kind)


@dataclass(frozen=True)
class Preprocessed:
    original: str
    model_text: str  # what the model reads
    terms: tuple[Term, ...]
    negated: tuple[ScopedFinding, ...]  # negated and hedged findings, in reading order

    @property
    def negated_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "negated")

    @property
    def hedged_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "hedged")


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
    urticaria hives varicosities varices oedema edema palpitations""".split()
)
# Multi-word rules: first word -> how the next word must start.
_RULE_PAIRS = {
    "productive": "cough", "nasal": "congestion", "congested": "nose", "wt": "loss", "retro": "orbital",
    "neck": "stiffness", "nuchal": "rigidity", "pale": "stool", "acholic": "stool", "urinary": "frequency",
    "honey": "colo", "swollen": "ankles", "diabetes": "mellitus",
}
_SLASH_LETTERS = frozenset("ncwhsrydNCWHSRYD")


_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:!?])")


def normalise(text: str, *, words: bool = True) -> tuple[str, tuple[Term, ...]]:
    """Rewrite clinician register into the model's lay vocabulary; return the text and the terms hit."""
    terms: list[Term] = []

    def record(m: re.Match, out: str, kind: str) -> str:
        if m.group(0).strip().lower() != out.lower():
            terms.append(Term(text=m.group(0).strip(), meaning=out, kind=kind))
        return f" {out} " if out else " "

    s = text
    if _HAS_DIGIT.search(s):  # every pattern rule needs a number
        for pattern, fn, kind in _PATTERN_RULES:
            s = pattern.sub(lambda m: record(m, fn(m), kind), s)

    def word(m: re.Match) -> str:
        rep, kind = _rule_for(m.group(0))
        return record(m, rep, kind)

    if words:  # False only when the batch prefilter has ruled every word rule out
        s = _WORD_RE.sub(word, s)
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


def _scope_end(clause: str, start: int, cue: str, hedge: bool) -> tuple[int, str]:
    """End offset (in ``clause``) of the scope that starts at ``start``, and its text."""
    tokens = list(_TOKEN_RE.finditer(clause, start))
    words = [t for t in tokens if t.group() != ","]
    if not words:
        return start, ""
    if not hedge:
        first = next((w.group().lower() for w in words if w.group().lower() not in _FILLER), "")
        if first.replace("’", "'") in _PSEUDO_NEXT:
            return start, ""
    end = start
    n = 0
    commas_seen = False
    list_ends_with_or = re.search(r"\b(?:or|nor)\b", clause[start:], re.I) is not None
    for t in tokens:
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


def find_scopes(text: str, *, cues: bool = True) -> tuple[str, tuple[ScopedFinding, ...]]:
    """Remove negated/hedged scopes (and their cues) from ``text``; return the rest and what was removed."""
    found: list[ScopedFinding] = []
    pieces: list[str] = []
    # cues=False only when the batch prefilter has ruled every cue out
    bounds = [m.end() for m in _CLAUSE_RE.finditer(text)] if cues else []
    for cs, ce in zip([0] + bounds, bounds + [len(text)]):
        clause = text[cs:ce]
        cpos = 0
        while True:
            m = _CUE_RE.search(clause, cpos)
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
    model_text = re.sub(r"\s+", " ", "".join(pieces))
    model_text = re.sub(r"\s+([,.;:!?])", r"\1", model_text)
    model_text = re.sub(r"(?:,\s*){2,}", ", ", model_text)
    model_text = re.sub(r"([.;:!?])\s*,", r"\1", model_text)
    return model_text.strip(" ,"), tuple(found)


def preprocess(text: str) -> Preprocessed:
    """Normalise clinician register, then remove negated and hedged findings. Pure and deterministic."""
    normalised, terms = normalise(str(text))
    model_text, scopes = find_scopes(normalised)
    return Preprocessed(original=str(text), model_text=model_text, terms=terms, negated=scopes)


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
    word, cue = _re2_prefilters()
    t = tf.constant(texts)
    words = tf.strings.regex_full_match(t, word).numpy()
    cues = tf.strings.regex_full_match(t, cue).numpy() | words
    return words, cues


def needs_rules(texts: list[str]) -> "np.ndarray":
    """Boolean per text: could any normalisation or negation rule change what the model reads?"""
    words, cues = rule_stages(texts)
    return words | cues


def preprocess_many(texts: list[str]) -> list[str]:
    """The model texts for a batch (training and CSV scoring use this; the Case page uses preprocess).

    Texts no rule can touch are passed as typed: :func:`preprocess` would only tidy their spaces and
    punctuation, which the model's tokenizer discards anyway, so the model reads the same tokens."""
    import numpy as np

    texts = [str(t) for t in texts]
    words, cues = rule_stages(texts)
    out = list(texts)
    for i in np.flatnonzero(words | cues):
        # only the stages the prefilter could not rule out (same result as preprocess(t).model_text)
        normalised = normalise(texts[i], words=True)[0] if words[i] else texts[i]
        out[i] = find_scopes(normalised, cues=True)[0] if cues[i] else normalised
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
