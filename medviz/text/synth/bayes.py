"""A naive-Bayes differential straight from the knowledge base: the baseline the network is compared with,
and an optional second opinion that can be multiplied into the network's probabilities.

Findings are read from the text with the generator's own names (synonym table, the knowledge base's
symptom names, the clinician-findings table), longest phrase first; a finding is *absent* when a
negation cue (``no``, ``denies``, ``without``, ``negative for``, ``not``, ``nil``) comes before it in
the same clause (a crude NegEx: Chapman et al., J Biomed Inform 2001), or when a trailing cue follows it
as the clause's last word (``CP - none``, ``fever: no``, ``SOB denied,``; the charting form of a pertinent
negative); a finding is *uncertain* in a hedge's scope (``?neck stiffness``, ``possible rash``, ``appendicitis?``,
``r/o MI``: ConText's POSSIBLE_EXISTENCE cues, :data:`_HEDGE_WORDS`), shown as such and weighed as present
(:meth:`KnowledgeBaseBayes.indicators`). Combined abbreviations (``N/V``, ``D&V``) are read as each finding they name, and measured vital signs
and bedside values (``HR 118``, ``T 39.8``, ``BP 80/50``, ``sats 88%``, ``BM 2.1``, ``K 7.1``) as the finding
their value means (tachycardia, fever, hypotension, hypoxia, hypoglycaemia, hyperkalaemia: :data:`VITAL_RULES`)
rather than as exact-number phrases. Verb phrases and findings with words between their parts ("has not opened his
bowels or passed wind", "cannot feel or move his legs") are read by medspaCy / spaCy target rules over lemmas with
ConText's assertion status (medviz.text.synth.phrase_rules, 2.4.0). Age and sex come from ``67M`` / ``67-year-old
man`` / ``67 yo F`` forms. Score of condition c (log scale):

    log P(c | case) = const + Σ_present log max(p_cs, ε) + Σ_absent log(1 - p_cs)
                      + log age_odds_c(band) + log sex_odds_c(sex)      (each odds floored at ε)

with p_cs the share of patients with c who report finding s (0 when c does not list it) and ε = 0.005:
findings not mentioned carry no evidence (an unmentioned symptom is not an absent one). The prior
over conditions is uniform, as in the generated training set. p_cs is the knowledge base's share, or the
clinician-findings table's where the knowledge base lists none, raised to P(cause | c) · P(s | cause) for a cause
that c's clinician-findings table names (:func:`cause_floor`, 2.4.0).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

import numpy as np

from medviz.text import zh
from medviz.text.synth.kb import AGE_RANGES, SEXES, KnowledgeBase
from medviz.text.synth.phrase_rules import PhraseRules

EPS = 0.005
FORMAT = "medviz.kb-bayes/1"
EXPERT_FILE = "knowledge_base_expert.json"
# English tokens as before; Chinese cue words and Han characters as tokens too (medviz.text.zh, issue 14)
# commas and a spaced dash are tokens too (neither ends a clause): a trailing negation must be the clause's last word
_TOKEN = re.compile(zh.EXPERT_TOKEN_PATTERN + r"|,|(?<!\S)[-–—](?!\S)")
_NEG_WORDS = frozenset({"no", "denies", "denied", "denying", "without", "not", "nil", "absent", "never", "nor", "neither",
                        *zh.NEGATION_CUES})
_IGNORE_WORDS = frozenset(zh.IGNORE_CUES)  # Chinese hedge / history / family cues: findings after them not counted
# English conditional cues (safety-netting: "return if fever, loin pain or rigors", "call back if he develops chest
# pain"): the findings of the condition are hypothetical, not counted (:func:`_hypothetical_end`), as ConText's
# HYPOTHETICAL rules read them (medviz/text/clinical/data/context_rules.json, "if")
_IF_WORDS = frozenset({"if", "unless"})
_NOT_IF_BEFORE = frozenset({"as", "even", "grateful", "appreciate", "appreciated", "thankful"})  # "as if", "grateful if"
_NOT_IF_YOU = frozenset({"could", "would", "can", "kindly", "please", "might"})  # "if you could see this 69F …"
_SCOPE_LIST = frozenset({"or", "nor"})
# English hedge cues (ConText's POSSIBLE_EXISTENCE rules, medviz/text/clinical/data/context_rules.json, as the clinical
# reader of the 22-condition bundle reads them; tests/text/test_kb_hedges.py checks the two lists agree): a finding in
# a hedge's scope is *uncertain* (ReadCase.uncertain), neither present nor absent. As in those rules, a hedge reaches
# one finding only (max_targets 1: "possible neck stiffness and photophobia": photophobia is present), and a comma or
# the clause's end stops it. Forward: a word ("possible", "query", "suspected", ...), a phrase ("could be",
# "cannot exclude", "r/o", "in keeping with", ...), or a "?" written before the finding (:func:`_query_marks`).
# Backward: a "?" written onto the finding ("appendicitis?"), a hedge word ending the clause ("UTI suspected."),
# "not ruled out" / "cannot be excluded" after it (:func:`_trailing_hedge`). A negation of the same finding wins
# ("no possible rash": absent), as ConText's status order has it.
_HEDGE_WORDS = frozenset({"possible", "possibly", "poss", "probable", "probably", "likely", "suspected", "suspect",
                          "suspicious", "questionable", "presumed", "presumptive", "query", "ddx", "vs", "versus",
                          "differential", "differentials", "maybe", "perhaps"})
_HEDGE_PHRASES = frozenset({
    *((w, "be") for w in ("may", "might", "could")),
    *((a, b) for a in ("suspicion", "suspicious", "concern", "concerning", "worrisome", "suggestive", "consistent",
                       "compatible") for b in ("of", "for", "with")),
    *((a, b) for a in ("cannot", "cant") for b in ("exclude", "rule")), ("can", "t", "exclude"), ("can", "t", "rule"),
    # "can not / could not / couldn't exclude" (its "not" denies nothing: the reader steps over it, _hedge_width)
    *((a, b, c) for a, b in (("can", "not"), ("could", "not"), ("couldn", "t")) for c in ("exclude", "rule")),
    ("unable", "to", "exclude"), ("unable", "to", "rule"),  # session 14: "unable to exclude PE" was read as nothing
    ("rule", "out"), ("r", "o"), ("r", "out"), ("in", "keeping", "with")})
_HEDGE_NEXT: dict[str, frozenset] = {}  # first word of a hedge phrase -> the second words it can have
for _k in _HEDGE_PHRASES:
    _HEDGE_NEXT[_k[0]] = _HEDGE_NEXT.get(_k[0], frozenset()) | {_k[1]}
_HEDGE_TOKENS = frozenset({",", *_HEDGE_WORDS, *_HEDGE_NEXT})  # the words the reader checks for a hedge cue
# a hedge word that ends the finding's clause reads backward ("UTI suspected.", "appendicitis - likely,")
_HEDGE_END_WORDS = frozenset({"possible", "likely", "suspected", "query", "questionable", "probable", "presumed"})
_AFFIRMED = frozenset({"yes", "present", "positive", "pos", "y", "reported", "noted"})
_COPULA = frozenset({"is", "was", "are", "were", "been", "be", "has", "have", "had"})  # "fever has not been excluded"
_NOT_RULED_OUT = (frozenset({"not", "cannot"}), frozenset({"ruled", "excluded"}))  # "not (been) ruled out", "cannot be excluded"
# A "?" token is re-written, one token for one (the denied token ranges keep their places), to one of these clause
# ends: a query written onto the word after it ("?neck stiffness": it ends the clause before it, as the "?" did, and
# opens a hedge), one standing apart ("? PE", "?? appendicitis": a hedge of the finding right after it only, so that a
# question's spaced "?" does not hedge the next sentence's finding) or one written onto the word before it
# ("appendicitis?": a backward hedge)
_QUERY = "?query"
_QUERY_SPACED = "?spaced"
_QUERY_BACK = "?back"
_CLAUSE_END = frozenset({".", ";", ":", "!", "?", _QUERY, _QUERY_SPACED, _QUERY_BACK, "but", "however", "although",
                         "though", *zh.CLAUSE_ENDS})
# the tokens a backward hedge cue can start with (:func:`_trailing_hedge` runs only after a finding followed by one)
_HEDGE_AFTER = frozenset({*_HEDGE_END_WORDS, *_COPULA, *_NOT_RULED_OUT[0], "can", ":", "-", "\u2013", "\u2014",
                          _QUERY_BACK})
_AGE_SEX = (
    re.compile(r"\b(\d{1,3})\s*(?:yo|y/o|yr|yrs|year old|years old|-year-old|year-old)?\s*([mf])\b", re.I),
    re.compile(r"\b(\d{1,3})[- ](?:year|yr)s?[- ]old\s+(man|woman|male|female|boy|girl|gentleman|lady)\b", re.I),
)
_MONTHS = re.compile(r"\b(\d{1,2})[- ](?:month|week|day)s?[- ]old\b", re.I)  # under a year: age 0
_SEX_WORD = re.compile(r"\b(man|woman|male|female|boy|girl|he|she|his|her)\b")
_SEX_WORDS = {"m": "Male", "man": "Male", "male": "Male", "boy": "Male", "gentleman": "Male", "he": "Male", "his": "Male",
              "f": "Female", "woman": "Female", "female": "Female", "girl": "Female", "lady": "Female", "she": "Female",
              "her": "Female"}



# Trailing negation (issue 15: "denies CP", "CP - none", "fever: no" are how clinicians chart a pertinent
# negative; the prefix rule read "fever: no" as fever present). A finding followed, after at most one ":" or
# spaced dash, by one of these words that ends its clause (then ",", a clause end or the end of the text) is absent.
_POST_NEG = frozenset({"no", "none", "nil", "neg", "negative", "denied", "denies", "absent"})
# Review-of-systems notation: a minus written onto a finding negates it ("fever-, cough-, itchy rash+"); the
# plus only marks it present. Rewritten before tokenising to the trailing negation "fever neg;" / dropped; a
# hyphen inside a word ("X-ray", "non-tender") or before a digit is left alone.
_SIGN_MINUS = re.compile(r"(?<=[a-z):]) ?[-\u2212](?=[ \t]*(?:[,;.\n]|$))")
_SIGN_PLUS = re.compile(r"(?<=[a-z)]) ?\+(?=[ \t]*(?:[,;.\n]|$))")
# what either sign pattern needs after its sign, without their look-behind (which CPython's re tests at every
# character: ~6 us per note, for the "-" of nearly every "-year-old"); a note without it is left as it is
_SIGN_ANY = re.compile(r"[-\u2212+][ \t]*(?:[,;.\n]|$)")
_POST_SEP = frozenset({":", "-", "\u2013", "\u2014", _QUERY_BACK})  # "fever? no": asked and denied
_BOUNDARY = frozenset({",", *_CLAUSE_END})
# ConText's backward NEGATED_EXISTENCE cues that end the finding's clause, after auxiliaries ("PE was excluded",
# "fracture has been ruled out", "rash unlikely."; context_rules.json): the finding is absent. "not ruled out",
# "cannot be excluded" stay hedges (_trailing_hedge: a "not" before them is no auxiliary)
# Not "X resolved / settled" (ConText's backward "resolved" rule, which the clinical reader keeps): a symptom that
# resolved is still evidence for the differential (a TIA's weakness "fully resolved by arrival", pain "now settled in
# the right lower abdomen"); tried in session 14 and not kept (holdout5 top-10 77.3 -> 76.7 %)
_POST_RULED = frozenset({"excluded", "unlikely", "improbable"})
_POST_START = _POST_NEG | _POST_SEP | _POST_RULED | {"ruled"} | _COPULA

# Combined abbreviations naming several findings at once ("N/V", "D&V", "N/V/D"; "/", "&" and "+" are not
# tokens): read as each finding. Values: phrases of the synonym table (skipped when a table lacks one).
COMBINED = {("n", "v"): ("nausea", "vomiting"), ("n", "v", "d"): ("nausea", "vomiting", "diarrhoea"),
            ("d", "v"): ("diarrhoea", "vomiting"), ("v", "d"): ("vomiting", "diarrhoea"),
            ("n", "and", "v"): ("nausea", "vomiting"), ("d", "and", "v"): ("diarrhoea", "vomiting")}

# Vital signs and bedside values (issue 15: "HR 118" was read only where a table happened to hold that exact
# number, "T 39.8" as the phrase "T 39" of necrotising fasciitis). A value is read as the finding it means,
# with the usual adult alert thresholds (NEWS2, Royal College of Physicians 2017: HR >= 100 / <= 50, RR >= 21 /
# <= 8, T >= 38.0 / < 35.0, SpO2 < 92 %, systolic BP < 90; severe hypertension >= 160/110 as NICE NG133 and NG136;
# capillary glucose < 4.0 mmol/L = hypoglycaemia (NICE NG17/NG28), > 20 = marked hyperglycaemia; potassium
# >= 6.0 mmol/L = hyperkalaemia (UK Kidney Association 2020)). Each rule: (measure, test on the value(s),
# phrase); a phrase the expert's tables lack is skipped. Table phrases holding a value of these measures
# ("HR 118", "T 39", "BP 160/110") are not read as phrases: the value is read here instead. A value has up to four
# digits and is read whole (a creatinine of 1200 umol/L was read as 120, "HR 1180" as 118); a longer number is none.
# Commas in a value (session 14; :func:`_value_of`): three digits after one are thousands ("creatinine 1,200" was read
# as 1), one or two a decimal comma as much of Europe writes it ("T 37,9" was read as 37, "creatinine 1,5 mg/dL" as 1).
_VITAL = re.compile(
    r"\b(hr|pulse|heart rate|rr|resp rate|respiratory rate|t|temp|temperature|bp|blood pressure|sats|o2 sats|spo2|sao2"
    r"|bm|cbg|glucose|blood glucose|blood sugar|k|k\+|potassium|creatinine|creat|lactate|cohb|cohb level|carboxyhaemoglobin|carboxyhemoglobin|ketones|ketone)"
    r"\s*(?:of|is|was|=|:)?\s*"
    r"(\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d{1,4}(?:,\d{1,2}|\.\d+)?(?!\d|,\d)|hi)"
    r"(?:\s*/\s*(\d{2,3}))?(?![\d.]*(?!umol)[a-z])", re.I)  # a letter right after the number: a unit or a word (3days);
# "umol" may follow it ("130umol/L"); "µmol" already could (µ is no a-z)
_MEASURE = {"hr": "hr", "pulse": "hr", "heart rate": "hr", "rr": "rr", "resp rate": "rr", "respiratory rate": "rr",
            "t": "t", "temp": "t", "temperature": "t", "bp": "bp", "blood pressure": "bp", "sats": "spo2",
            "o2 sats": "spo2", "spo2": "spo2", "sao2": "spo2", "bm": "glucose", "cbg": "glucose", "glucose": "glucose",
            "blood glucose": "glucose", "blood sugar": "glucose", "k": "k", "k+": "k", "potassium": "k",
            "creatinine": "creatinine", "creat": "creatinine", "lactate": "lactate", "cohb": "cohb", "cohb level": "cohb",
            "carboxyhaemoglobin": "cohb", "carboxyhemoglobin": "cohb", "ketones": "ketones", "ketone": "ketones"}
CREATININE_KDIGO_3 = "creatinine at kdigo stage 3 level"  # a VITAL_RULES phrase read only by the red flags
VITAL_RULES = (
    ("hr", lambda v, _: 100 <= v <= 300, "tachycardia"),
    ("hr", lambda v, _: 0 < v <= 50, "bradycardia"),
    ("rr", lambda v, _: 21 <= v <= 80, "tachypnoea"),
    ("rr", lambda v, _: 0 < v <= 8, "respiratory depression"),
    ("t", lambda v, _: 38.0 <= v <= 45.0, "fever"),
    ("t", lambda v, _: 40.0 <= v <= 45.0, "hyperpyrexia"),
    ("t", lambda v, _: 25.0 <= v < 35.0, "hypothermia"),
    ("bp", lambda v, d: 40 <= v < 90, "hypotension"),
    ("bp", lambda v, d: v >= 160 or (d or 0) >= 110, "severe hypertension"),
    ("spo2", lambda v, _: 50 <= v < 92, "hypoxia"),
    ("glucose", lambda v, _: 0 < v < 4.0, "hypoglycaemia"),
    ("glucose", lambda v, _: 20.0 < v < 100, "hyperglycaemia"),
    ("k", lambda v, _: 6.0 <= v < 10.0, "hyperkalaemia"),
    # blood tests a clinician writes as a value (session 11): serum creatinine clearly above the adult reference range
    # (about 45-110 umol/L, 0.5-1.2 mg/dL; a value under 25 is read as mg/dL) and lactate >= 4 mmol/L (NICE NG51's
    # high-risk criterion), carboxyhaemoglobin >= 10 % (above a smoker's level), blood ketones >= 3.0 mmol/L (JBDS's
    # DKA criterion; a hyperosmolar state has < 3.0); a lying-then-standing blood pressure that falls by >= 20
    # systolic or >= 10 diastolic (the consensus definition of orthostatic hypotension; POSTURAL_DROP, vital_findings)
    ("creatinine", lambda v, _: v >= 130 or 1.5 <= v < 25, "raised creatinine"),
    # serum creatinine at KDIGO stage 3's level, >= 353.6 umol/L = 4.0 mg/dL (KDIGO 2012 Clinical Practice Guideline
    # for Acute Kidney Injury, Kidney Int Suppl 2012;2:1-138, table 2): acute kidney injury, or advanced chronic kidney
    # disease where the baseline is as high. A phrase no expert table holds (the expert reads "raised creatinine" for
    # it as before); the acute kidney injury red flag reads it (medviz/text/red_flags.json, value:<phrase>)
    ("creatinine", lambda v, _: v >= 353.6 or 4.0 <= v < 25, CREATININE_KDIGO_3),
    ("lactate", lambda v, _: 4.0 <= v < 30, "raised lactate"),
    ("cohb", lambda v, _: 10 <= v <= 100, "raised carboxyhaemoglobin"),
    ("ketones", lambda v, _: 3.0 <= v < 15, "ketones"),
)
_VITAL_LOWER = re.compile(_VITAL.pattern)  # vital_findings on lower-case text without "ı" or "ſ": no IGNORECASE
_VITAL_RULES_OF: dict[str, tuple] = {}  # measure -> its (test, phrase) rules, in VITAL_RULES order
for _name, _test, _phrase in VITAL_RULES:
    _VITAL_RULES_OF[_name] = (*_VITAL_RULES_OF.get(_name, ()), (_test, _phrase))
# "blood" with a verb or noun of its source a few words away in the same clause (issue 15: "vomits a large amount
# of bright red blood" read as no bleeding at all): (word stem, where it stands, phrase of the tables).
BLOOD_WITH = (("vomit", "before", "vomiting blood"), ("threw", "before", "vomiting blood"), ("cough", "before", "coughing up blood"),
              ("vomit", "after", "vomiting blood"), ("sputum", "after", "coughing up blood"))
BLOOD_REACH = 8
POSTURAL_DROP = re.compile(r"\b(?:lying|supine|sitting)\s+(?:bp\s+)?(\d{2,3})\s*/\s*(\d{2,3})[^.;]{0,40}?\bstanding\b[^.;]{0,30}?"
                           r"(\d{2,3})\s*/\s*(\d{2,3})")
_VITAL_FIRST = frozenset(w.split()[0].rstrip("+") for w in _MEASURE)
_VALUE_WORDS = frozenset({"hr", "rr", "t", "bp", "sats", "spo2", "sao2", "bm", "cbg", "glucose", "k", "temp"})
# test names that are table phrases but, with a number after them, mean what the number says ("ketones 0.6" on the
# meter of a hyperosmolar state is no ketosis): read by value (VITAL_RULES) instead
_READ_BY_VALUE = frozenset({"ketones", "ketone"})


# Laterality (issue 15: a stroke read as myasthenia gravis): "right arm weakness", "weakness of the left arm",
# "R-sided leg weakness" are one-sided weakness. The knowledge base codes a stroke's weakness as *focal
# weakness* and lists no *arm weakness* for it at all (SymCat: stroke focal weakness 46 %, arm weakness -;
# myasthenia gravis arm weakness 14 %), so reading the body part made the stroke ~28x less likely. The
# phrase tables cannot list every side x body part x word order, so a weakness phrase with a side word
# just before it, or "of / in / on / down (the) right / left" just after it, in the same clause, is read
# as focal weakness instead of the body part's weakness. Generalised weakness is never one-sided.
_SIDE_WORDS = frozenset({"right", "left", "unilateral", "r", "l"})
_ONE_SIDED = (("one", "sided"), ("one", "side"), ("single", "side"))
_AFTER = frozenset({"of", "in", "on", "down", "to"})  # "weakness of the right arm", "weak down the left side"
_GENERAL = frozenset({"generalised", "generalized", "proximal", "muscles", "muscle", "asthenia"})
LATERAL_REACH = 3
FOCAL_PHRASE = "focal weakness"


@dataclass(frozen=True)
class ExpertReading:
    """:meth:`KnowledgeBaseBayes.indicators` of N texts: ``matrix`` (distinct texts, 2F + bands + sexes) sparse
    0/1 indicators, ``codes`` (N,) each text's row in it."""

    codes: np.ndarray
    matrix: object  # scipy.sparse.csr_matrix
    # distinct text index -> that text without its denied findings (:func:`without_denied`); only for texts
    # that have some, and only when :meth:`KnowledgeBaseBayes.indicators` was asked for them
    network_texts: dict | None = None
    # distinct text index -> (present names, absent names, uncertain names) (the expert's reading, for a scored CSV's
    # findings columns and the Case page); only when :meth:`KnowledgeBaseBayes.indicators` was asked for them
    findings: dict | None = None

    def findings_list(self) -> list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] | None:
        """Per text read (in order), its (present, absent, uncertain) finding names, or None when not read."""
        if self.findings is None:
            return None
        return [self.findings[int(k)] for k in self.codes]

    def network_text_list(self, texts: list[str]) -> list[str] | None:
        """``texts`` (the N texts read, in order) with each one's denied findings removed where it had some; None
        when the reading was not asked for them (the network reads the texts as they are)."""
        if self.network_texts is None:
            return None
        if not self.network_texts:
            return list(texts)
        return [self.network_texts.get(int(k), t) for k, t in zip(self.codes, texts)]


@dataclass(frozen=True)
class ReadCase:
    present: tuple[int, ...]  # feature columns found
    absent: tuple[int, ...]  # feature columns negated
    age: int | None
    sex: str | None
    # (start, end) token ranges of the phrases read as absent by the n-gram reader with their negation cue, in the
    # tokens of :func:`normalise` (empty when a combined abbreviation changed the tokens): :func:`without_denied`
    denied: tuple[tuple[int, int], ...] = ()
    # feature columns read in a hedge's scope ("?neck stiffness", "possible rash", "appendicitis?", ...: the hedge
    # cues of ConText's POSSIBLE_EXISTENCE rules, :data:`_HEDGE_WORDS`); never also in ``present`` or ``absent``
    uncertain: tuple[int, ...] = ()


class KnowledgeBaseBayes:
    """Naive Bayes over a knowledge base (module docstring). ``predict_proba(texts) -> (N, C)`` in
    ``labels`` order (the conditions' names, sorted as the trained bundle's labels are)."""

    def __init__(self, kb: KnowledgeBase, synonyms: dict, clinical_findings: dict | None = None):
        self.labels = sorted(c.name for c in kb.conditions)
        conds = {c.name: c for c in kb.conditions}
        order = [conds[name] for name in self.labels]
        m, slugs = kb.frequency_matrix()
        row = {c.slug: i for i, c in enumerate(kb.conditions)}
        freq = m[[row[c.slug] for c in order]]  # (C, S) in label order
        phrases: dict[str, int] = {}
        for j, slug in enumerate(slugs):
            entry = synonyms.get(slug, {})
            for p in [kb.symptom_names[slug], *entry.get("lay", []), *entry.get("clinical", [])]:
                phrases.setdefault(p.lower(), j)
        extra_cols = []
        for slug, table in (clinical_findings or {}).items():
            if slug not in row:
                continue
            ci = self.labels.index(conds_by_slug(kb)[slug].name)
            for phrase, pct in table.items():
                for alt in phrase.split(" / "):
                    key = alt.strip().lower()
                    if key in phrases:
                        j = phrases[key]
                        if j >= freq.shape[1]:
                            extra_cols[j - freq.shape[1]][ci] = max(extra_cols[j - freq.shape[1]][ci], pct / 100.0)
                        elif freq[ci, j] == 0:  # a knowledge-base symptom the knowledge base does not list for this
                            freq[ci, j] = pct / 100.0  # condition (oesophageal varices: haematemesis): the table's share
                        continue
                    col = np.zeros(len(self.labels))
                    col[ci] = pct / 100.0
                    phrases[key] = freq.shape[1] + len(extra_cols)
                    extra_cols.append(col)
        full = np.hstack([freq, np.array(extra_cols).T]) if extra_cols else freq
        self._build(cause_floor(full, self.labels, clinical_findings or {}, conds_by_slug(kb)), phrases,
                    np.array([c.age_odds for c in order]), np.array([c.sex_odds for c in order]))

    def _build(self, freq: np.ndarray, phrases: dict[str, int], age_odds: np.ndarray, sex_odds: np.ndarray) -> None:
        self.freq = freq
        self.age_odds, self.sex_odds = age_odds, sex_odds
        self.phrase_col = phrases
        self.column_names: dict[int, str] = {}  # column -> its first phrase (the knowledge base's own name)
        for phrase, col in phrases.items():
            self.column_names.setdefault(col, phrase)
        self._ngrams = {tuple(_TOKEN.findall(p)): col for p, col in phrases.items() if _TOKEN.findall(p)}
        self._focal = phrases.get(FOCAL_PHRASE)
        # verb phrases and findings with words between their parts (medspaCy target rules over lemmas, 2.4.0)
        self._phrase_rules = PhraseRules(phrases)
        # columns whose phrases name a weakness (arm weakness, weak legs, weakness, ...), the one-sided one excepted
        # phrases naming a weakness that can be one-sided (arm weakness, weak legs, weakness; not generalised)
        self._weakness_phrases = frozenset(
            k for k in (tuple(_TOKEN.findall(p)) for p, c in phrases.items() if c != self._focal)
            if any(w in ("weakness", "weak") for w in k) and not any(w in _GENERAL for w in k))
        lengths: dict[str, set[int]] = {}  # first word of a phrase -> the lengths of the phrases starting with it
        for k in self._ngrams:
            lengths.setdefault(k[0], set()).add(len(k))
        # longest first; only lengths some phrase has are tried (the same match as trying every length)
        self._lengths = {w: tuple(sorted(ls, reverse=True)) for w, ls in lengths.items()}
        self.log_present = np.log(np.maximum(self.freq, EPS))
        self.log_absent = np.log(np.clip(1.0 - self.freq, EPS, 1.0))
        self.log_age = np.log(np.maximum(age_odds, EPS))
        self.log_sex = np.log(np.maximum(sex_odds, EPS))
        # One (2F + bands + sexes, C) log-likelihood matrix, C-contiguous: a case is a sparse row of
        # indicators (present findings, absent findings, age band, sex) and a batch is one sparse x dense
        # product (a transposed view made scipy copy the (F, C) matrices on every call).
        self._loglik = np.ascontiguousarray(np.vstack([self.log_present.T, self.log_absent.T, self.log_age.T,
                                                       self.log_sex.T]))

    def to_json(self) -> bytes:
        """Compact JSON for a bundle artefact: labels, phrase -> column, non-zero frequencies, odds."""
        import json

        r, c = np.nonzero(self.freq)
        doc = {"format": FORMAT, "labels": self.labels, "n_features": int(self.freq.shape[1]), "phrases": self.phrase_col,
               "frequencies": [[int(i), int(j), round(float(self.freq[i, j]), 4)] for i, j in zip(r, c)],
               "age_odds": self.age_odds.round(4).tolist(), "sex_odds": self.sex_odds.round(4).tolist()}
        return json.dumps(doc, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> "KnowledgeBaseBayes":
        """Inverse of :meth:`to_json`. Raises :class:`BundleError` for an unknown format."""
        import json

        from medviz.errors import BundleError

        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise BundleError(f"knowledge-base expert: format {doc.get('format')!r} is not {FORMAT!r}")
        self = cls.__new__(cls)
        self.labels = list(doc["labels"])
        freq = np.zeros((len(self.labels), int(doc["n_features"])))
        for i, j, v in doc["frequencies"]:
            freq[i, j] = v
        self._build(freq, {k: int(v) for k, v in doc["phrases"].items()}, np.array(doc["age_odds"]), np.array(doc["sex_odds"]))
        return self

    def read(self, text: str) -> ReadCase:
        """Findings present / absent, age and sex of one text. Hand-written n-gram lookup (longest phrase
        first) rather than one regex alternation of ~2,000 phrases: ~40x faster in CPython. Negation before a
        finding (same clause) or as the clause's last word after it; combined abbreviations (:data:`COMBINED`);
        vital signs by value (:data:`VITAL_RULES`, never negated); verb phrases and findings with words between
        their parts by medspaCy target rules over lemmas, with ConText's assertion status
        (medviz.text.synth.phrase_rules; only for a text holding each required word of some rule)."""
        low = normalise(text)
        toks = _TOKEN.findall(low)
        if "?" in low:  # a query before a finding or written onto it: hedge cues (_QUERY, _QUERY_BACK)
            toks = _query_marks(low, toks)
        expanded = False
        if "v" in toks:  # N/V, D&V: each finding it names ("," keeps them two phrases; negation carries over it)
            n_before = len(toks)
            toks = _expand_combined(toks)
            expanded = len(toks) != n_before
        present, absent, denied, uncertain = [], [], [], []
        run: list[tuple[int, int, int, int]] = []  # the present findings of the current clause
        dropped: set[int] = set()  # places in ``present`` of list findings that a trailing negation denied
        negated = ignored = hedged = False  # hedged: a forward hedge cue waits for its one finding
        # cue: the negation cue not yet cut with a denied finding (:func:`without_denied`); negated_at: the last
        # negation cue; hedge_at: where a spaced "?"'s one finding must start, or -1
        cue = negated_at = hedge_at = -1
        i = 0
        n_toks = len(toks)
        hypothetical: list[tuple[int, int]] = []  # token ranges of conditional clauses (:func:`_hypothetical_end`)
        hypothetical_until = -1
        ngrams, lengths, no_lengths = self._ngrams, self._lengths, ()
        while i < n_toks:
            t = toks[i]
            if t in _CLAUSE_END:
                negated = ignored = False
                # "?neck stiffness": the query ends the clause before it and opens a hedge; "? PE": of the next word's
                hedged = t == _QUERY or t == _QUERY_SPACED
                hedge_at = i + 1 if t == _QUERY_SPACED else -1
                run = []
                i += 1
                continue
            for n in lengths.get(t, no_lengths):
                if n > n_toks - i:
                    continue
                gram = tuple(toks[i:i + n])
                col = ngrams.get(gram)
                if col is not None and not (t in _VALUE_WORDS and any(w[0].isdigit() for w in gram[1:])) and not (
                        t in _READ_BY_VALUE and n == 1 and i + 1 < n_toks and toks[i + 1][0].isdigit()):
                    if gram in self._weakness_phrases and self._focal is not None and _lateral(toks, i, i + n):
                        col = self._focal  # one-sided: the knowledge base's focal weakness, not the body part's
                    i += n
                    after = _trailing_negation(toks, i) if i < n_toks and toks[i] in _POST_START else 0
                    hedge_after = _trailing_hedge(toks, i) if i < n_toks and not after and toks[i] in _HEDGE_AFTER else 0
                    if not ignored and i - n >= hypothetical_until:
                        if after and not negated and run:
                            # "Arm/leg weakness - nil", "urinary retention or incontinence - none": the trailing
                            # negation denies each finding of the list it ends (joined by "or", "and", "/"), not only
                            # the last one; the list is found backwards from here, only when a negation ends it
                            j, end = len(run), i - n
                            while j and all(w in _RUN_JOINERS for w in toks[run[j - 1][1]:end]):
                                j -= 1
                                end = run[j][3]
                            for c, _, k, _ in run[j:]:
                                dropped.add(k)
                                absent.append(c)
                            if j < len(run):
                                cue = run[j][3]  # the denied range starts at the list's first finding
                        if negated or after:
                            run = []
                            absent.append(col)
                            start = i - n if cue < 0 else min(cue, i - n)
                            if denied and all(w in _LIST_JOINERS for w in toks[denied[-1][1]:start]):
                                start = denied[-1][1]  # "headache, dizziness or vomiting": the list's joiners too
                            denied.append((start, after or i))  # the finding with its cue (before or after it)
                            cue = -1
                        elif (hedged and hedge_at in (-1, i - n)) or hedge_after:  # "?neck stiffness", "appendicitis?": one finding, uncertain
                            run = []
                            uncertain.append(col)
                        else:
                            run.append((col, i, len(present), i - n))  # (column, its end, its place, its start)
                            present.append(col)
                    hedged = False  # a hedge reaches one finding (ConText's max_targets 1)
                    i = after or hedge_after or i
                    break
            else:
                if t in _NEG_WORDS and (i + 1 == n_toks or toks[i + 1] in _BOUNDARY):
                    pass  # a cue that ends its clause ("SOB no, cough") negates nothing after it
                elif t in _NEG_WORDS or (t == "negative" and i + 1 < len(toks) and toks[i + 1] == "for"):
                    negated, cue, negated_at = True, i, i
                elif t in _IF_WORDS and _conditional(toks, i):
                    hypothetical_until = _hypothetical_end(toks, i)
                    hypothetical.append((i, hypothetical_until))
                elif t in _HEDGE_TOKENS:  # one set lookup per word for the three kinds below
                    if t == ",":
                        hedged = False  # a comma ends a hedge's scope (ConText's COMMA_BREAK / COMMA_LIST)
                    elif t in _HEDGE_WORDS or (width := _hedge_width(toks, i)):
                        if negated and "," in toks[negated_at + 1:i]:
                            negated = False  # "no fever, possible rash": the hedge's finding is not denied
                        hedged, hedge_at = True, -1
                        if t not in _HEDGE_WORDS and not _NEG_WORDS.isdisjoint(toks[i + 1:i + width]):
                            i += width - 1  # "could not exclude meningism": its "not" is no negation

                ignored = ignored or t in _IGNORE_WORDS
                i += 1
        if dropped:
            present = [c for k, c in enumerate(present) if k not in dropped]
        if "blood" in toks:  # "vomits a large amount of bright red blood": the verb and its object apart
            blood_present, blood_absent = self._blood_columns(toks, hypothetical)
            present += [c for c in blood_present if c not in absent]
            absent += blood_absent
        if self._phrase_rules.may_match(toks):  # "not opened his bowels or passed wind": medspaCy rules + ConText
            rule_present, rule_absent, rule_uncertain = self._phrase_rules.read_statuses(text)
            present += rule_present
            absent += [c for c in rule_absent if c not in present]
            uncertain += rule_uncertain
        age, sex = zh.age_sex_zh(text) if zh.is_chinese(text) else _age_sex(text)
        if may_hold_a_value(toks):
            present += self._vital_columns(low)
        # a finding read as present anywhere in the note is present; one both denied and hedged is absent
        absent_cols = tuple(dict.fromkeys(c for c in absent if c not in present))
        return ReadCase(tuple(dict.fromkeys(present)), absent_cols, age, sex, () if expanded else tuple(denied),
                        tuple(dict.fromkeys(c for c in uncertain if c not in present and c not in absent_cols)))

    def _blood_columns(self, toks: list[str], hypothetical: list[tuple[int, int]] = ()) -> tuple[list[int], list[int]]:
        """Columns (present, absent) of the bleeding findings that "blood" names with a verb or noun near it in its
        clause (:data:`BLOOD_WITH`: "vomited a cupful of blood", "coughing up some blood", "blood in the vomit"); a
        negation cue between them stops the search; one in the few words before the pair, in the same clause, denies
        the finding ("no vomiting of blood", "not coughed up any blood": read as absent, not as present). A "blood" inside
        a conditional clause (``hypothetical``: token ranges, "return if vomiting blood") is not read."""
        present, absent = [], []
        for j, t in enumerate(toks):
            if t != "blood" or any(a <= j < b for a, b in hypothetical):
                continue
            for words, step in ((toks[max(0, j - BLOOD_REACH):j][::-1], "before"), (toks[j + 1:j + 1 + BLOOD_REACH], "after")):
                for k, w in enumerate(words):
                    if w in _CLAUSE_END or w in _NEG_WORDS:
                        break
                    phrase = next((ph for stem, side, ph in BLOOD_WITH if side == step and w.startswith(stem)), None)
                    if phrase is not None:
                        if phrase in self.phrase_col:
                            first = j - 1 - k if step == "before" else j  # the pair's first word
                            (absent if _negated_before(toks, first) else present).append(self.phrase_col[phrase])
                        break
        return present, absent

    def _vital_columns(self, low: str) -> list[int]:
        """Columns of the findings that the vital signs and bedside values in ``low`` (lower-cased text) mean
        (:func:`vital_findings`); phrases the tables lack are skipped."""
        return [self.phrase_col[phrase] for phrase in vital_findings(low) if phrase in self.phrase_col]

    def findings(self, text: str) -> tuple[list[str], list[str]]:
        """Names of the findings read as present and as absent in ``text`` (:meth:`finding_names` without the
        uncertain ones)."""
        present, absent, _uncertain = self.finding_names(text)
        return present, absent

    def finding_names(self, text: str) -> tuple[list[str], list[str], list[str]]:
        """Names of the findings read as present, as absent and as uncertain (hedged) in ``text``, in reading order."""
        r = self.read(text)
        return ([self.column_names[c] for c in r.present], [self.column_names[c] for c in r.absent],
                [self.column_names[c] for c in r.uncertain])

    def log_scores(self, texts: list[str]) -> np.ndarray:
        """(N, C) unnormalised log posteriors: each distinct text read once (:meth:`read`), then one sparse
        indicator matrix (N, 2F + bands + sexes) times the log-likelihood matrix.
        The same as ``scores_of(indicators(texts))``."""
        return self.scores_of(self.indicators(texts))

    def indicators(self, texts: list[str], denied_evidence: bool = True, findings: bool = False) -> "ExpertReading":
        """What :meth:`read` found in each text, as a sparse indicator matrix over the distinct texts
        (present findings, absent findings, age band, sex): the Python part of :meth:`log_scores`, small
        enough to send from a worker process (medviz.scoring.prepare_process) to :meth:`scores_of`.
        A finding read as uncertain (hedged, ``ReadCase.uncertain``) is evidence as a present one is.
        ``denied_evidence`` False (a bundle whose manifest says ``knowledge_base_expert.denied_not_evidence``,
        :func:`denied_not_evidence`): findings read as denied give no likelihood, and the reading carries each text
        without them for the network (:func:`without_denied`, ``ExpertReading.network_texts``). ``findings``: also
        each text's present, absent and uncertain finding names (``ExpertReading.findings``, for a scored CSV and the
        Case page)."""
        import pandas as pd
        from scipy import sparse

        f = self.freq.shape[1]
        codes, uniq = pd.factorize(pd.Series(list(texts), dtype=object), sort=False)
        rows, cols = [], []
        masked: dict[int, str] | None = None if denied_evidence else {}
        names: dict[int, tuple] | None = {} if findings else None
        for i, t in enumerate(uniq):
            r = self.read(t)
            if names is not None:
                names[i] = (tuple(self.column_names[c] for c in r.present),
                            tuple(self.column_names[c] for c in r.absent),
                            tuple(self.column_names[c] for c in r.uncertain))
            if masked is not None and r.denied:
                masked[i] = without_denied(t, r.denied)
            # A hedged finding ("?crepitus", "?pulsatile mass", "suspected heroin injection") is shown as uncertain but
            # weighed as present evidence: the clinician raises the sign because something suggests it, and the
            # network reads its words as they stand (only denied findings are cut). Chosen on
            # benchmarks/differential.py (--no-speed, session 13) against giving it no evidence: 7 of the 911
            # vignettes (none of the robustness cases) hold a hedged finding; weighing it as present kept every figure at least at main's (the
            # reader's other change, "confused? no" read as denied, lifted holdout4 top-1 49.3 -> 50.0 %), while no
            # evidence lowered holdout6 top-1 50.0 -> 48.7 % and top-3 62.7 -> 62.0 %, holdout3 top-5 75.0 -> 74.3 %
            # (its can't-miss top-5 82.7 -> 81.8 %); can't-miss counts were the same for both (holdout6 85/90).
            found = [*r.present, *r.uncertain, *(f + c for c in r.absent)] if denied_evidence else [*r.present,
                                                                                                   *r.uncertain]
            if r.age is not None:
                found.append(2 * f + next(b for b, (lo, hi) in enumerate(AGE_RANGES)
                                          if r.age <= hi or b == len(AGE_RANGES) - 1))
            if r.sex is not None:
                found.append(2 * f + len(AGE_RANGES) + SEXES.index(r.sex))
            rows += [i] * len(found)
            cols += found
        x = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(uniq), self._loglik.shape[0]))
        return ExpertReading(codes=np.asarray(codes, dtype=np.int64), matrix=x, network_texts=masked, findings=names)

    def scores_of(self, reading: "ExpertReading") -> np.ndarray:
        """(N, C) log posteriors of an :meth:`indicators` result (one sparse x dense product)."""
        scores = np.asarray(reading.matrix @ self._loglik)
        return scores if reading.matrix.shape[0] == len(reading.codes) else scores[reading.codes]

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        from scipy.special import softmax

        return softmax(self.log_scores(texts), axis=1)


_LIST_JOINERS = frozenset({",", "or", "and", "nor"})
# words that join the findings of one list a trailing negation ends ("arm/leg weakness - nil": "/" is no token);
# not the comma, which also separates findings each charted on its own ("SOB - no, chest pain - no")
_RUN_JOINERS = frozenset({"or", "and", "nor"})


def normalise(text: str) -> str:
    """The text the expert tokenises: lower case, review-of-systems signs read as words ("fever-" → "fever neg;",
    "rash+" → "rash")."""
    low = text.lower()
    if ("-" in low or "+" in low or "\u2212" in low) and _SIGN_ANY.search(low):
        low = _SIGN_PLUS.sub("", _SIGN_MINUS.sub(" neg;", low))
    return low


def without_denied(text: str, denied: tuple[tuple[int, int], ...]) -> str:
    """``text`` (normalised, :func:`normalise`) with the token ranges ``denied`` (from :meth:`KnowledgeBaseBayes.read`:
    each denied finding with its negation cue) cut out: "Chest pain: no. Burning pain when urinating" → ". burning
    pain when urinating"; "denies chest pain, SOB or fever. Rash" → ", or . rash". What a bundle's network reads when
    its manifest says ``knowledge_base_expert.denied_not_evidence`` (2.5.0): a denied finding is not evidence (the
    shared assertion cases), and a network's word features cannot tell "chest pain" from "chest pain: no" ("denies
    chest pain, shortness of breath, …" was read as pulmonary embolism). Written by hand because it cuts exactly the
    spans the expert's own reader found (the same tokens, :data:`_TOKEN`), so the two parts agree."""
    low = normalise(text)
    last = max((b for _, b in denied), default=0)  # tokens after the last denied one are not needed
    spans = [m.span() for m in islice(_TOKEN.finditer(low), last)]
    cut = sorted((spans[a][0], spans[b - 1][1]) for a, b in denied if b <= len(spans))
    out, pos = [], 0
    for start, end in cut:
        if start >= pos:
            out.append(low[pos:start])
            pos = end
    out.append(low[pos:])
    return " ".join("".join(out).split())


def _value_of(digits: str) -> float:
    """The number a value of :data:`_VITAL` writes: "1,200" (thousands) 1200.0, "37,9" (decimal comma) 37.9, "38.5"
    38.5. A comma followed by exactly three digits is a thousands separator; by one or two, a decimal comma."""
    if "," not in digits:
        return float(digits)
    head, _, tail = digits.partition(",")
    if len(tail) <= 2:
        return float(head + "." + tail)
    return float(digits.replace(",", ""))


# Words just before a measure that make its value a target or a limit, not an observation: "target sats 88-92%" (a
# COPD plan), "aim SpO2 94-98", "keep K above 4" (session 14: read as hypoxia). Up to two words may stand between
# ("target O2 sats 88-92", "aim for sats of 88-92").
_TARGET_WORDS = re.compile(r"\b(?:target(?:ing|ed)?|aim(?:ing)?|goal|keep|maintain(?:ing)?|titrat\w*|threshold|call\s+if"
                           r"|trigger)\W+(?:\w+\W+){0,2}$")


def conditional_spans(low: str) -> list[tuple[int, int]]:
    """Character spans of ``low``'s conditional clauses ("return if creatinine 400 or more", "if temperature 38 or
    above, call"): the clause a conditional cue opens (:func:`_conditional`, :func:`_hypothetical_end`, the same rule
    as the findings' reading), mapped back from tokens to characters. A value in one is a condition, not the
    patient's (session 14: such a value raised the acute kidney injury red flag)."""
    if "if" not in low and "unless" not in low:
        return []
    matches = list(_TOKEN.finditer(low))
    toks = [m.group() for m in matches]
    spans = []
    for i, t in enumerate(toks):
        if t in _IF_WORDS and _conditional(toks, i):
            end = _hypothetical_end(toks, i)
            spans.append((matches[i].start(), matches[end - 1].end() if end > i + 1 else matches[i].end()))
    return spans


_UMOL = re.compile(r"\s*(?:umol|µmol|μmol|micromol)")
_MG = re.compile(r"\s*mg\b")


def _creatinine_by_unit(digits: str, value: float, after: str) -> float | None:
    """A creatinine value read with the unit written after it (``after``: the text that follows the number): in
    µmol/L a value under 25 is no creatinine (None: "creatinine 2 umol/L" was read as 2 mg/dL, raised) and "1.200"
    (a point before exactly three digits) is 1,200; in mg/dL a value of 25 or more is none. Without a unit, the
    value as the rules read it (under 25: mg/dL). Session 14."""
    if _UMOL.match(after):
        head, dot, tail = digits.partition(".")
        if dot and len(tail) == 3 and "," not in digits:  # a thousands point, as much of Europe writes it
            value = float(head + tail)
        return value if value >= 25 else None
    if _MG.match(after):
        return value if value < 25 else None
    return value


def not_observed(low: str, start: int, conditional: list[tuple[int, int]] | None = None) -> bool:
    """True when a value written at character ``start`` of ``low`` (a lower-cased text) is not the patient's: it stands
    in a conditional clause (:func:`conditional_spans`, or ``conditional``: those spans already found) or just after a
    target word (:data:`_TARGET_WORDS`). Shared by :func:`vital_findings` and the clinical reader's vital signs
    (medviz.text.clinical.vitals)."""
    spans = conditional_spans(low) if conditional is None else conditional
    return any(a <= start < b for a, b in spans) or _TARGET_WORDS.search(low, max(0, start - 40), start) is not None


def vital_findings(low: str) -> list[str]:
    """Names of the findings (:data:`VITAL_RULES`: "fever", "hypothermia", "hyperglycaemia", ...) that the vital signs
    and bedside values in ``low`` (a lower-cased text, :func:`normalise`) mean, in text order; a temperature of
    90-113 is read as Fahrenheit. A value inside a conditional clause (:func:`conditional_spans`: "return if T 38 or
    more") or given as a target ("target sats 88-92%", :data:`_TARGET_WORDS`) is not the patient's and is skipped.
    Never raises; a value it cannot place is skipped."""
    found = []
    # a lower-case text needs no IGNORECASE (which made the pattern ~3x slower: 34 vs 11 us per note with a value),
    # unless it holds the dotless i or the long s, the two lower-case letters that IGNORECASE also matches to an ASCII
    # letter of the pattern (re's documentation, "IGNORECASE"); such a text keeps it, so the two give the same matches
    pattern = _VITAL_LOWER if low == low.lower() and "\u0131" not in low and "\u017f" not in low else _VITAL
    conditional = None
    for m in pattern.finditer(low):
        if conditional is None:
            conditional = conditional_spans(low)
        if not_observed(low, m.start(), conditional):
            continue
        measure = _MEASURE.get(m.group(1))  # the names' only whitespace is the pattern's own single space
        if m.group(2) == "hi":  # a meter's "HI": above its range
            value, second = (99.0 if measure == "glucose" else None), None
        else:
            value, second = _value_of(m.group(2)), (float(m.group(3)) if m.group(3) else None)
        if measure == "creatinine" and second is None and value is not None:
            value = _creatinine_by_unit(m.group(2), value, low[m.end():m.end() + 12])
            if value is None:
                continue
        if value is None or (measure != "bp" and second is not None):
            continue
        if measure == "t" and 90 <= value <= 113:  # Fahrenheit
            value = (value - 32) / 1.8
        found += [phrase for test, phrase in _VITAL_RULES_OF.get(measure, ()) if test(value, second)]
    for m in (POSTURAL_DROP.finditer(low) if "standing" in low else ()):  # "lying BP 142/80, standing at 3 min 108/64"
        sys1, dia1, sys2, dia2 = (int(g) for g in m.groups())
        if sys1 - sys2 >= 20 or dia1 - dia2 >= 10:
            found.append("postural drop")
    return found


def may_hold_a_value(toks: list[str]) -> bool:
    """True when a measure's word ("HR", "BP", "sats", "heart rate", ...) has a number or "HI" within three tokens
    after it: the vital-sign pattern then runs (on ~25 ms per 1,000 texts, it is the costliest step otherwise)."""
    if _VITAL_FIRST.isdisjoint(toks):
        return False
    for k, w in enumerate(toks):
        if w in _VITAL_FIRST and any(x[0].isdigit() or x == "hi" for x in toks[k + 1:k + 4]):
            return True
    return False


def _negated_before(toks: list[str], i: int, reach: int = 3) -> bool:
    """True when a negation cue stands within ``reach`` words before ``toks[i]`` in its clause."""
    for w in reversed(toks[max(0, i - reach):i]):
        if w in _CLAUSE_END:
            return False
        if w in _NEG_WORDS:
            return True
    return False


def _conditional(toks: list[str], i: int) -> bool:
    """True when ``toks[i]`` ("if", "unless") opens a conditional clause: not "as if", "even if", "grateful if" nor a
    letter's "if you could / would see this …" (whose clause is the case itself)."""
    if i and toks[i - 1] in _NOT_IF_BEFORE:
        return False
    return not (i + 2 < len(toks) and toks[i + 1] == "you" and toks[i + 2] in _NOT_IF_YOU)


def _hypothetical_end(toks: list[str], i: int) -> int:
    """Index just past the conditional clause that the cue ``toks[i]`` opens: up to the clause's end, or up to its first
    comma after the clause's last "or" / "nor" ("return if fever, loin pain or rigors" whole; "if she has a rash, come
    back" up to the comma; "paracetamol if needed, cough for 3 days": the cough is read). Close to ConText's COMMA_BREAK,
    which ends the "if" rule's scope at a comma with no "or" / "nor" after it in the sentence (context_rules.json);
    here the clause, not the sentence, bounds the search."""
    end = i + 1
    while end < len(toks) and toks[end] not in _CLAUSE_END:
        end += 1
    last_or = max((k for k in range(i + 1, end) if toks[k] in _SCOPE_LIST), default=i)
    return next((k for k in range(last_or + 1, end) if toks[k] == ","), end)


def _trailing_negation(toks: list[str], i: int) -> int:
    """Index just past a trailing negation that starts at ``toks[i]`` ("- none", ": no", "denied" ending its
    clause; after auxiliaries too, "was denied", and "excluded", "unlikely", "ruled out": :data:`_POST_RULED`), or 0
    when there is none."""
    n = len(toks)
    j = i + 1 if i < n and toks[i] in _POST_SEP else i
    if j < n and toks[j] in _POST_NEG and (j + 1 == n or toks[j + 1] in _BOUNDARY):
        return j + 1
    while j < n and toks[j] in _COPULA:
        j += 1
    end = j + 2 if toks[j:j + 2] == ["ruled", "out"] else j + 1 if j < n and toks[j] in _POST_RULED | _POST_NEG else 0
    return end if end and (end == n or toks[end] in _BOUNDARY) else 0


def _hedge_width(toks: list[str], i: int) -> int:
    """The number of tokens of the hedge phrase of :data:`_HEDGE_PHRASES` ("could be", "cannot exclude", "could not
    rule", "r/o", ...) that starts at ``toks[i]`` (the longer one where two do), or 0 when none does."""
    if i + 1 >= len(toks) or toks[i + 1] not in _HEDGE_NEXT.get(toks[i], ()):
        return 0
    return 3 if tuple(toks[i:i + 3]) in _HEDGE_PHRASES else 2 if tuple(toks[i:i + 2]) in _HEDGE_PHRASES else 0


def _trailing_hedge(toks: list[str], i: int) -> int:
    """Where to read on after a backward hedge cue that starts at ``toks[i]``, just after a finding, or 0 when there
    is none: a "?" written onto the finding ("appendicitis?": :data:`_QUERY_BACK`, whose own index is returned so that
    it still ends the clause); after at most one ":" / spaced dash and auxiliaries ("is", "has", "been", ...), a hedge
    word that ends its clause ("UTI suspected.", "appendicitis - likely,") or "not (been / be) ruled out",
    "cannot be excluded" (ConText's backward POSSIBLE_EXISTENCE rules, context_rules.json)."""
    n = len(toks)
    if toks[i] == _QUERY_BACK:  # "fever? yes": asked and affirmed, present (ConText's AFFIRMED cues)
        return 0 if i + 1 < n and toks[i + 1] in _AFFIRMED and (i + 2 == n or toks[i + 2] in _BOUNDARY) else i
    j = i + 1 if toks[i] in _POST_SEP else i
    while j < n and toks[j] in _COPULA:
        j += 1
    if j < n and toks[j] in _HEDGE_END_WORDS and (j + 1 == n or toks[j + 1] in _BOUNDARY):
        return j + 1
    k = j + 1 if j < n and toks[j] in _NOT_RULED_OUT[0] else j + 2 if toks[j:j + 2] == ["can", "t"] else 0
    if not k:
        return 0
    while k < n and toks[k] in _COPULA:
        k += 1
    if k < n and toks[k] in _NOT_RULED_OUT[1]:
        return k + 2 if k + 1 < n and toks[k + 1] == "out" else k + 1
    return 0


def _query_marks(low: str, toks: list[str]) -> list[str]:
    """``toks`` (the tokens of ``low``, :data:`_TOKEN`) with each "?" that is a hedge cue re-written, one token for one:
    :data:`_QUERY` for a query before a finding (written onto the word after it, "?neck stiffness", as ConText's
    ``__query__`` mark), :data:`_QUERY_SPACED` for one standing apart from the words on both sides and followed by
    a word ("? PE", "?? appendicitis"), :data:`_QUERY_BACK` for one written onto the word before it ("appendicitis?", ConText's
    ``__query_back__``). Other "?" tokens (a question's "?" then a space and a digit, a lone "?") stay as they are."""
    out = list(toks)
    size = len(low)
    for k, m in enumerate(_TOKEN.finditer(low)):
        if m.group() != "?":
            continue
        s, e = m.span()
        before = low[s - 1] if s else " "
        nxt = low[e] if e < size else " "
        if nxt.isalpha():
            out[k] = _QUERY
        elif before.isalnum():
            out[k] = _QUERY_BACK
        elif nxt in " \t":
            rest = low[e:e + 40].lstrip(" \t")
            if rest[:1].isalpha():
                out[k] = _QUERY_SPACED
    return out


def _expand_combined(toks: list[str]) -> list[str]:
    """``toks`` with each combined abbreviation (:data:`COMBINED`, longest first) replaced by its findings'
    words, separated by commas."""
    out, i = [], 0
    while i < len(toks):
        for n in (3, 2):
            names = COMBINED.get(tuple(toks[i:i + n]))
            if names:
                for k, name in enumerate(names):
                    out += ([","] if k else []) + _TOKEN.findall(name)
                i += n
                break
        else:
            out.append(toks[i])
            i += 1
    return out


def _lateral(toks: list[str], start: int, end: int) -> bool:
    """True when ``toks[start:end]`` (a weakness phrase) is one-sided: a side word ("right", "left", "R", "L",
    "unilateral", "one-sided") within LATERAL_REACH words before it, or "of / in / on / down (the) right / left"
    right after it; never across a clause end."""
    before: list[str] = []
    for w in reversed(toks[max(0, start - LATERAL_REACH):start]):
        if w in _CLAUSE_END:
            break
        before.insert(0, w)
    if any(w in _SIDE_WORDS for w in before) or any(pair in _ONE_SIDED for pair in zip(before, before[1:])):
        return True
    after = toks[end:end + LATERAL_REACH]
    if after and after[0] in _AFTER:
        rest = [w for w in after[1:] if w != "the"]
        return bool(rest) and (rest[0] in _SIDE_WORDS - {"r", "l"} or tuple(rest[:2]) in _ONE_SIDED)
    return False


# A cause named in a condition's clinician-findings table (2.4.0): "known cirrhosis / cirrhosis" 45 % for oesophageal
# varices, "head injury" 60 % for an extradural haematoma. By the law of total probability, and taking a finding of
# the cause to be as common with the condition as without it (the naive-Bayes independence the expert assumes
# anyway), P(s | c) >= P(cause | c) * P(s | cause). The knowledge base lists none of cirrhosis's findings for
# varices (jaundice, ascites, alcohol excess: each eps = 0.5 %), so a varices case that names them was read as
# near-impossible; this floor gives them 0.45 x 30-40 %. An alternative of a table key names a cause when it is a
# knowledge-base condition's name, alone or after "known " / "on " (CAUSE_PREFIXES).
CAUSE_PREFIXES = ("", "known ", "on ")


def causes_named(labels: list[str], clinical_findings: dict, by_slug: dict) -> list[tuple[int, int, float]]:
    """(condition row, cause row, P(cause | condition)) for each knowledge-base condition that a condition's
    clinician-findings table names (:data:`CAUSE_PREFIXES`); the largest share where a cause is named twice."""
    row = {name.lower(): i for i, name in enumerate(labels)}
    found: dict[tuple[int, int], float] = {}
    for slug, table in clinical_findings.items():
        if slug not in by_slug:
            continue
        ci = labels.index(by_slug[slug].name)
        for phrase, pct in table.items():
            for alt in (a.strip().lower() for a in phrase.split(" / ")):
                for prefix in CAUSE_PREFIXES:
                    cause = row.get(alt[len(prefix):]) if alt.startswith(prefix) else None
                    if cause is not None and cause != ci:
                        found[ci, cause] = max(found.get((ci, cause), 0.0), pct / 100.0)
    return [(ci, cause, q) for (ci, cause), q in found.items()]


def cause_floor(freq: np.ndarray, labels: list[str], clinical_findings: dict, by_slug: dict) -> np.ndarray:
    """``freq`` (C, F) with each condition's finding shares raised to at least P(cause | c) * P(s | cause) for the
    causes its clinician-findings table names (:func:`causes_named`; the causes' own rows as they were, so a floor
    is not passed on twice). A new array; ``freq`` is not changed."""
    out = freq.copy()
    for ci, cause, q in causes_named(labels, clinical_findings, by_slug):
        out[ci] = np.maximum(out[ci], q * freq[cause])
    return out


def conds_by_slug(kb: KnowledgeBase) -> dict:
    return kb.by_slug()


def _age_sex(text: str) -> tuple[int | None, str | None]:
    low = text.lower()
    old = "old" in low  # _MONTHS and the second _AGE_SEX pattern need it (a search costs ~3-5 us per note)
    m = _MONTHS.search(text) if old else None
    age = 0 if m else None
    sex = None
    for pat in _AGE_SEX if old else _AGE_SEX[:1]:
        m2 = pat.search(text)
        if m2:
            age = int(m2.group(1)) if age is None else age
            sex = _SEX_WORDS.get(m2.group(2).lower())
            break
    if sex is None:
        word = _SEX_WORD.search(low)  # the first one
        sex = _SEX_WORDS.get(word.group(1)) if word else None
    if age is not None and age > 110:
        age = None
    return age, sex


def expert_for(bundle):
    """The bundle's knowledge-base expert and its weight, or None (cached per bundle folder and file hash)."""
    meta = bundle.manifest.get("knowledge_base_expert")
    if not meta:
        return None
    return _load_expert(str(bundle.path / meta["file"]), bundle.manifest["files"][meta["file"]]), float(meta["weight"])


def product_temperature(bundle) -> float:
    """Temperature applied to the network x expert product (``knowledge_base_expert.calibration``; 1.0 when the
    bundle predates product recalibration)."""
    meta = bundle.manifest.get("knowledge_base_expert") or {}
    return float((meta.get("calibration") or {}).get("temperature", 1.0))


@lru_cache(maxsize=4)
def _load_expert(path: str, digest: str) -> "KnowledgeBaseBayes":
    from pathlib import Path

    return KnowledgeBaseBayes.from_json(Path(path).read_bytes())


def expert_log_scores(bundle, texts: list[str]) -> np.ndarray | None:
    """(N, C) the bundle's knowledge-base expert's log-scores of ``texts`` (:meth:`KnowledgeBaseBayes.log_scores`),
    None when the bundle has no expert. Pure Python reading: the CSV path runs it in its reading thread
    (medviz.text.analyse.prepare) while the model scores the chunk before."""
    reading = expert_reading(bundle, texts)
    return None if reading is None else expert_for(bundle)[0].scores_of(reading)


def denied_not_evidence(bundle) -> bool:
    """True when a denied finding is no evidence for the bundle (manifest ``knowledge_base_expert.denied_not_evidence``,
    2.5.0): its network reads each text without the findings its expert reads as denied (:func:`without_denied`)
    and the expert gives them no likelihood; they are still shown as absent."""
    meta = bundle.manifest.get("knowledge_base_expert") or {}
    return bool(meta.get("denied_not_evidence"))


def expert_reading(bundle, texts: list[str], findings: bool = False):
    """The bundle's expert's :meth:`KnowledgeBaseBayes.indicators` of ``texts`` (:func:`denied_not_evidence` applied;
    ``findings``: with each text's finding names), or None when the bundle has no expert."""
    found = expert_for(bundle)
    return None if found is None else found[0].indicators(list(texts), denied_evidence=not denied_not_evidence(bundle),
                                                          findings=findings)


def network_inputs(bundle, texts: list[str]) -> list[str]:
    """What the bundle's network reads of the raw ``texts``: each without its denied findings when
    :func:`denied_not_evidence` (such a bundle's preprocessing is ``none``), else ``texts`` themselves. For the
    figures of the network's part (recalibration, benchmarks); the pipeline gets the same texts from
    :func:`expert_reading` (medviz.text.analyse)."""
    reading = expert_reading(bundle, texts) if denied_not_evidence(bundle) else None
    return list(texts) if reading is None else reading.network_text_list(list(texts))


def with_expert(bundle, texts: list[str], probs: np.ndarray, log_scores: np.ndarray | None = None) -> np.ndarray:
    """Network probabilities combined with the bundle's knowledge-base expert (:func:`combine`, with the
    bundle's product temperature), if it has one. ``log_scores``: the expert's (N, C) log-scores of
    ``texts`` already computed (:func:`expert_log_scores`); read here when None."""
    found = expert_for(bundle)
    if found is None or not len(texts):
        return probs
    expert, weight = found
    if log_scores is None:
        log_scores = expert_log_scores(bundle, texts)
    return combine(probs, log_scores, weight, product_temperature(bundle))


def product_logits(net_probs: np.ndarray, bayes_log: np.ndarray, weight: float) -> np.ndarray:
    """(N, C) log-scores of the product of experts before its temperature: log p_net + weight · log p_bayes."""
    from scipy.special import log_softmax

    return np.log(np.maximum(net_probs, 1e-12)) + weight * log_softmax(bayes_log, axis=1)


def combine(net_probs: np.ndarray, bayes_log: np.ndarray, weight: float, temperature: float = 1.0) -> np.ndarray:
    """Product of experts: softmax((log p_net + weight · log p_bayes) / temperature), rows normalised.

    ``weight`` 0 = network only; ``temperature`` is the product's own calibration
    (:func:`medviz.text.recalibrate.fit_product_calibration`), 1.0 = none."""
    from scipy.special import softmax

    from medviz.text.rowwise import by_row_blocks

    # The expert's log-softmax is a constant per row (log p_bayes = b - logsumexp(b)), which the softmax
    # removes, so the raw log-scores give the same distribution without one (N, C) exp/log pass (equal to
    # the product_logits form to float64 rounding, tests/text/test_csv_speed_paths.py). Row blocks: no
    # (N, C) temporaries (medviz.text.rowwise).
    return by_row_blocks(lambda p, b: softmax((np.log(np.maximum(p, 1e-12)) + weight * b) / temperature, axis=1),
                         np.asarray(net_probs), np.asarray(bayes_log))
