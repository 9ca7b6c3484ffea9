"""The expert reader's shortcuts (session 13, for CSV speed) read what the plain patterns read.

Each shortcut skips a regular expression where it cannot match or swaps it for a cheaper equal one; each test runs
the plain pattern as the reference on a seeded corpus built to hit the edges (signs at clause ends, IGNORECASE's
non-ASCII letters, "-old" ages, denied findings at the note's end)."""
from __future__ import annotations

import re

import numpy as np

from medviz.text.synth import bayes

MEASURES = ["hr", "pulse", "heart rate", "rr", "t", "temp", "bp", "sats", "spo2", "bm", "glucose", "k", "k+", "creat",
            "lactate", "cohb", "ketones", "ſats", "temp", "ıt", "heart  rate"]
VALUES = ["118", "39.2", "35,1", "101.3", "85/50", "200/120", "hi", "6.8", "560", "4.5", "12", "88", "7"]
AFTER = ["", "%", "°c", "c", "bpm", "ſ", "ı", " mmol", "µmol", "/min", "f", ".", ",", "x"]
JOIN = [" ", ": ", " = ", " of ", " is ", "", "  "]


def _vital_corpus(n: int = 3000) -> list[str]:
    rng = np.random.default_rng(13)
    pick = lambda xs: xs[int(rng.integers(len(xs)))]  # noqa: E731
    out = []
    for _ in range(n):
        parts = [pick(MEASURES) + pick(JOIN) + pick(VALUES) + pick(AFTER) for _ in range(int(rng.integers(1, 5)))]
        out.append(pick([", ", "; ", " and ", ". "]).join(parts))
    return out + ["lying bp 142/80, standing at 3 min 108/64", "t 39.5, rr 24, spo2 91 %, glucose hi"]


def _reference_vitals(low: str) -> list[str]:
    """vital_findings as it was: the IGNORECASE pattern, every rule tested (values in conditional clauses and targets
    skipped, session 14)."""
    found = []
    for m in bayes._VITAL.finditer(low):
        if any(a <= m.start() < b for a, b in bayes.conditional_spans(low)) or bayes._TARGET_WORDS.search(low[:m.start()]):
            continue
        measure = bayes._MEASURE.get(re.sub(r"\s+", " ", m.group(1)))
        if m.group(2) == "hi":
            value, second = (99.0 if measure == "glucose" else None), None
        else:
            value, second = bayes._value_of(m.group(2)), (float(m.group(3)) if m.group(3) else None)
        if measure == "creatinine" and second is None and value is not None:  # its unit (session 14)
            value = bayes._creatinine_by_unit(m.group(2), value, low[m.end():m.end() + 12])
        if value is None or (measure != "bp" and second is not None):
            continue
        if measure == "t" and 90 <= value <= 113:
            value = (value - 32) / 1.8
        found += [phrase for name, test, phrase in bayes.VITAL_RULES if name == measure and test(value, second)]
    for m in (bayes.POSTURAL_DROP.finditer(low) if "standing" in low else ()):
        sys1, dia1, sys2, dia2 = (int(g) for g in m.groups())
        if sys1 - sys2 >= 20 or dia1 - dia2 >= 10:
            found.append("postural drop")
    return found


def test_vital_values_read_without_ignorecase_are_the_same_findings():
    corpus = [bayes.normalise(t) for t in _vital_corpus()]
    got = [bayes.vital_findings(low) for low in corpus]
    assert got == [_reference_vitals(low) for low in corpus]
    assert sum(bool(g) for g in got) > 1000  # the corpus raises findings
    # the lower-case letters IGNORECASE matches to an ASCII letter: after "120", "ſ" and "ı" are letters of a unit to
    # the IGNORECASE pattern (no value read) but not to the plain one, so such a note keeps the IGNORECASE pattern
    for low in ("hr 120ſ", "hr 120ı"):
        assert [m.group(2) for m in bayes._VITAL_LOWER.finditer(low)] == ["120"]
        assert bayes.vital_findings(low) == _reference_vitals(low) == []
    assert bayes.vital_findings("hr 120 ı") == ["tachycardia"]


def test_sign_shortcut_rewrites_exactly_the_notes_the_sign_patterns_rewrite():
    rng = np.random.default_rng(5)
    words = ["fever", "cough", "rash", "x-ray", "non-tender", "k+", "(sob)", "pain:", "3-year-old", "a", "t -1", "+"]
    signs = ["-", "+", " -", " +", "\u2212", " \u2212", "", "--"]
    ends = ["", ",", ";", ".", "\n", " ,", "\t.", " x", "  "]
    corpus = ["".join(w + signs[int(rng.integers(len(signs)))] + ends[int(rng.integers(len(ends)))] + " "
                      for w in rng.choice(words, size=int(rng.integers(1, 6)))).strip() for _ in range(4000)]
    corpus += ["Fever-, cough-, itchy rash+", "72-year-old man, T 39", "pain -", "a-\n"]
    reference = [bayes._SIGN_PLUS.sub("", bayes._SIGN_MINUS.sub(" neg;", t.lower())) for t in corpus]
    assert [bayes.normalise(t) for t in corpus] == reference
    assert sum(r != t.lower() for r, t in zip(reference, corpus)) > 500  # the corpus has signs to rewrite


def test_age_and_sex_shortcut_reads_what_every_pattern_reads():
    def reference(text):
        m = bayes._MONTHS.search(text)
        age, sex = (0 if m else None), None
        for pat in bayes._AGE_SEX:
            m2 = pat.search(text)
            if m2:
                age = int(m2.group(1)) if age is None else age
                sex = bayes._SEX_WORDS.get(m2.group(2).lower())
                break
        if sex is None:
            words = re.findall(r"\b(man|woman|male|female|boy|girl|he|she|his|her)\b", text.lower())
            sex = bayes._SEX_WORDS.get(words[0]) if words else None
        return (None if age is not None and age > 110 else age), sex

    rng = np.random.default_rng(7)
    bits = ["72M", "72 yo F", "A 34-year-old woman", "3 month old boy", "6-week-OLD baby", "45 YEARS OLD MAN", "he",
            "She", "his", "120 yr old lady", "no fever", "2 days old", "old scar", "19 year old gentleman", "İ", "HIS"]
    corpus = [" ".join(rng.choice(bits, size=int(rng.integers(1, 4)))) for _ in range(3000)]
    assert [bayes._age_sex(t) for t in corpus] == [reference(t) for t in corpus]


def test_denied_findings_cut_up_to_the_last_denied_token_only():
    text = "Denies chest pain, SOB or fever. Rash on arms; cough: no"
    toks = bayes._TOKEN.findall(bayes.normalise(text))
    n = len(toks)
    assert toks[:3] == ["denies", "chest", "pain"] and toks[-3:] == ["cough", ":", "no"]
    assert bayes.without_denied(text, ()) == text.lower()
    assert bayes.without_denied(text, ((0, 3),)) == ", sob or fever. rash on arms; cough: no"
    assert bayes.without_denied(text, ((0, 3), (n - 3, n))) == ", sob or fever. rash on arms;"  # the last token too
    assert bayes.without_denied(text, ((n - 3, n + 1),)) == text.lower()  # past the end: not cut, as before
    assert bayes.without_denied(text, ((0, 3), (1, 5))) == ", sob or fever. rash on arms; cough: no"  # overlap: first
