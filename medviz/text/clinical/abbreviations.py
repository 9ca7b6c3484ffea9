"""Clinician register -> the lay words the diagnosis model was trained on, only where the context fixes the meaning.

A curated, tested list (:data:`_WORD_RULES`) of abbreviations, British/American spellings and medical
terms mapped to lay words found in the training text (SOB -> shortness of breath, pyrexia -> fever),
plus age/sex ("72M" -> 72 year old man) and duration shorthand ("3/7" -> for 3 days). Each hit is
returned as a :class:`Term` so the Case page can show what was recognised.

Short forms with more than one meaning are only rewritten where the context fixes it: "72M" (a number
with an attached capital M/F, or "y/o M", "male") is an age and sex, "walk 50 m" is a distance;
upper-case "CAP" is community-acquired pneumonia, "knee cap" is not; upper-case "CP" is chest pain.
The ambiguous ones in :data:`AMBIGUOUS` (MS, PE, RA, BM, ...) are left as written and listed as "not
interpreted" by :func:`not_interpreted`. Vital signs are read by medviz.text.clinical.vitals.

Hand-written: no maintained library maps clinician shorthand to this model's patient-voice vocabulary
(clinical abbreviation disambiguators such as CARD or medspaCy's QuickUMLS need UMLS licences and
model downloads); the list is small, inspectable and under test (tests/text/test_clinical.py).
"""
from __future__ import annotations

import re
from typing import Callable

from medviz.text.clinical.types import Term


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
    (r"lrti|(?-i:CAP)", "chest infection", "abbreviation"),  # "knee cap" is not a chest infection
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
    (r"(?-i:CP)", "chest pain", "abbreviation"),  # lower-case "cp" is left (cerebral palsy, ...)
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
    (r"t2dm|t1dm|(?-i:DM)|diabetes\s+mellitus", "diabetes", "abbreviation"),
    (r"bilat(?:eral)?", "both sides", "abbreviation"),
    (r"pmh|pmhx", "past history", "abbreviation"),
    (r"hx", "history", "abbreviation"),
    (r"sx", "symptoms", "abbreviation"),
    (r"pt", "patient", "abbreviation"),
    (r"(?-i:R)", "right", "abbreviation"),
    (r"(?-i:L)", "left", "abbreviation"),
]


def _age_sex(m: re.Match) -> str:
    sex = next(m.group(g) for g in ("sex", "sex2", "sex3", "sex4") if m.group(g)).lower()
    who = "man" if sex in ("m", "male", "man") else "woman"
    return f"{m.group('age')} year old {who}"


_DURATION_UNITS = {"7": "days", "52": "weeks", "12": "months", "24": "hours"}


def _duration(m: re.Match) -> str:
    return f"for {m.group('n')} {_DURATION_UNITS[m.group('u')]}"


# Age and sex: "72M", "72 M," at the start, "72 y/o M", "72 year old female", "72 male". A bare lower-case
# "m"/"f" after a number with a space is a unit ("walk 50 m"), not a sex: left alone.
_AGE_SEX = (
    r"(?<![\d./])\b(?P<age>\d{1,3})(?:"
    r"\s*(?:y/?o|yrs?|years?[- ]old|yo)\s*(?P<sex>m|f|male|female|man|woman)"  # "72 y/o M"
    r"|\s*(?P<sex2>male|female|man|woman)"  # "72 male"
    r"|(?-i:(?P<sex3>M|F))"  # "72M" (attached capital)
    r"|(?-i:\s(?P<sex4>M|F))(?=\s*,)"  # "72 M," (capital, then a comma)
    r")\b(?!\s*/)"
)
# (compiled pattern, replacement function, kind); these run before the word rules.
_PATTERN_RULES: list[tuple[re.Pattern, Callable[[re.Match], str], str]] = [
    (re.compile(_AGE_SEX, re.I), _age_sex, "age/sex"),
    (re.compile(r"(?<![\d/])(?P<n>\d{1,2})\s*/\s*(?P<u>7|52|12|24)\b(?!\s*/)"), _duration, "duration"),
    (re.compile(r"\bx\s*(?P<n>\d{1,2})\s*(?P<unit>days?|d|weeks?|wks?|months?|hours?|hrs?)\b", re.I),
     lambda m: f"for {m.group('n')} " + {"d": "days", "wk": "weeks", "wks": "weeks", "hr": "hours", "hrs": "hours"}.get(m.group("unit").lower(), m.group("unit").lower()),
     "duration"),
]

# A cheap necessary condition per pattern rule (same order as _PATTERN_RULES), checked on the text as
# it stands before that rule runs (ASCII texts only: there re.I folds exactly like str.lower). A rule
# whose keyword is absent cannot match, so its regex scan (~20 µs on this CPU) is skipped.
_PATTERN_HINTS: list[Callable[[str, str], bool]] = [
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




# Short forms whose meaning the surrounding words do not fix here: left as written, listed on the
# Case page as "not interpreted" (a clinician reads them; the model does not guess).
AMBIGUOUS: dict[str, str] = {
    "MS": "multiple sclerosis, mitral stenosis or morphine sulphate",
    "PE": "pulmonary embolism or physical examination",
    "RA": "rheumatoid arthritis or room air",
    "BM": "bowel movement or a finger-prick glucose",
    "CA": "cancer or calcium",
    "MI": "myocardial infarction or mitral insufficiency",
    "PID": "pelvic inflammatory disease or prolapsed intervertebral disc",
    "LOC": "loss of consciousness or level of consciousness",
    "DOA": "dead on arrival or date of admission",
    "AF": "atrial fibrillation or afebrile",
    "cp": "chest pain or cerebral palsy",
    "cap": "community-acquired pneumonia or a cap (knee cap)",
    "dm": "diabetes mellitus or a direct message",
}
_AMBIGUOUS_RE = re.compile(r"(?<![A-Za-z0-9/])(" + "|".join(sorted(AMBIGUOUS, key=len, reverse=True)) + r")(?![A-Za-z0-9/])")
_KNEE_CAP = re.compile(r"\b(?:knee|kneecap|bottle|ice|shower|swim(?:ming)?)\s+$", re.I)


def not_interpreted(text: str, consumed: tuple[tuple[int, int], ...] = ()) -> tuple[str, ...]:
    """The ambiguous short forms in ``text`` (case as listed in :data:`AMBIGUOUS`), each once, in order.

    ``consumed``: character regions already read with their meaning fixed (a vital sign's "RA" in
    "SpO2 92% RA"), skipped. "cap" after "knee", "bottle", ... is a plain word, not listed."""
    out: list[str] = []
    for m in _AMBIGUOUS_RE.finditer(text):
        if any(s <= m.start() < e for s, e in consumed):
            continue
        if m.group(1) == "cap" and _KNEE_CAP.search(text[: m.start()]):
            continue
        label = f"{m.group(1)} ({AMBIGUOUS[m.group(1)]})"
        if label not in out:
            out.append(label)
    return tuple(out)
