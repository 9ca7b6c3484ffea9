"""Seeded, deterministic synthetic cases from a knowledge base (SymCat's format, :mod:`.kb`).

Each case: a patient (age band drawn with weight age-odds x visit share, sex with the sex odds),
findings drawn from the condition's frequencies (at least one; "typical" cases draw every symptom
with its own probability, "sparse" ones keep one or two findings, weighted by frequency), pertinent
negatives (findings frequent in the condition's look-alikes, i.e. its nearest neighbours by cosine
similarity of the frequency vectors, that the condition itself lacks, stated absent) and screening
negatives (the knowledge base's most prevalent symptoms, e.g. chest pain, shortness of breath, fever,
denied in cases of conditions that lack them, so that a denied finding is never evidence for the
conditions it usually signals; since 2.5.0, in a dozen negation forms, leading and trailing: "denies
X", "X: no", "X -ve", "neither X nor Y", "ROS negative for X"), optional
clinician findings from the authors' own table (:data:`CLINICAL_FINDINGS_FILE`, vignette and
shorthand registers only), and context unrelated to the condition (timing, social history,
medication; in about half the clinician-register cases since 2.5.0 also past history, drug history,
family history and observations, as long as real notes) drawn independently of it, so the model
learns to read past it. Rendered in one of three
registers with the names of :data:`SYNONYMS_FILE`:

* ``patient``: a patient's (or parent's) own words, lay names;
* ``shorthand``: clinician shorthand, ``67M c/o …, denies …, 3/7``, clinical names;
* ``vignette``: vignette prose, ``A 67-year-old man presents with …``, mostly clinical names.

Determinism: every condition draws from its own ``numpy.random.Generator`` seeded from (seed, the
condition's slug via CRC-32), so a case depends on the seed, its condition and (through the pertinent
negatives) its look-alikes, not on the order of the conditions in the file.
"""
from __future__ import annotations

import json
import os
import tempfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from medviz.text.synth.kb import AGE_BAND_VISIT_SHARE, AGE_RANGES, SEXES, Condition, KnowledgeBase, KnowledgeBaseError

HERE = Path(__file__).resolve().parent
SYNONYMS_FILE = HERE / "synonyms.json"
CLINICAL_FINDINGS_FILE = HERE / "clinical_findings.json"
REGISTERS = ("patient", "shorthand", "vignette")
LOOK_ALIKES = 5
MAX_FINDINGS = 7
SCREENING_FINDINGS = 40  # the knowledge base's most prevalent symptoms, denied in cases of unrelated conditions


@dataclass(frozen=True)
class SynthCase:
    text: str
    label: str  # the condition's name (the model's label)
    condition: str  # its slug
    register: str
    age: int
    sex: str
    kind: str  # "typical" | "sparse"
    findings: tuple[str, ...]  # symptom slugs stated present
    negatives: tuple[str, ...]  # symptom slugs stated absent
    language: str = "en"  # "en" or "zh" (Simplified Chinese, medviz.text.synth.render_zh)


def load_synonyms(path: str | Path = SYNONYMS_FILE) -> dict[str, dict[str, list[str]]]:
    """slug -> {"lay": [...], "clinical": [...]} from a synonym file (see synonyms.json's ``_about``)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    table = data.get("symptoms", data)
    for slug, entry in table.items():
        if not isinstance(entry, dict) or not entry.get("lay") and not entry.get("clinical"):
            raise KnowledgeBaseError(f"{Path(path).name}: symptom '{slug}' needs a 'lay' or 'clinical' list of names")
    return table


def load_clinical_findings(path: str | Path = CLINICAL_FINDINGS_FILE) -> dict[str, dict[str, float]]:
    """condition slug -> {clinician phrase: percentage}; the authors' own clinical knowledge (file's ``_about``)."""
    p = Path(path)
    if not p.exists():
        return {}
    data = json.loads(p.read_text(encoding="utf-8"))
    table = data.get("conditions", {})
    for slug, entry in table.items():
        for phrase, pct in entry.items():
            if not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
                raise KnowledgeBaseError(f"{p.name}: condition '{slug}': field '{phrase}' must be a percentage 0-100")
    return table


def _seed_for(seed: int, slug: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(slug.encode("utf-8"))])


def look_alikes(kb: KnowledgeBase, k: int = LOOK_ALIKES) -> dict[str, list[str]]:
    """Each condition's ``k`` nearest other conditions by cosine similarity of symptom-frequency vectors."""
    m, _ = kb.frequency_matrix()
    unit = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    order = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    slugs = [c.slug for c in kb.conditions]
    return {slugs[i]: [slugs[j] for j in order[i]] for i in range(len(slugs))}


# Words that start a lay phrase written as a clause ("can't sleep") rather than a noun phrase
# ("a sore throat"): such phrases get a sentence of their own in the patient register.
_CLAUSE_START = {"i", "my", "can't", "it", "food", "not", "always", "baby", "eyes", "feels", "recently", "one",
                 "hard", "lost", "hair", "going", "heart", "face", "ear", "chest", "throat", "periods", "went",
                 "stops", "getting", "growing", "holding", "putting", "coming", "needing", "peeing", "passing",
                 "wetting", "biting", "using", "drinking", "smoking", "seeing", "feeling", "breathing",
                 "coughing", "vomiting", "throwing", "behaving", "forgetting", "struggling", "leaking", "head", "words",
                 "extra", "moody", "sleepy", "stiff", "very", "too", "smelly", "fluid", "mucus", "blood", "bleeding"}


def _is_clause(phrase: str) -> bool:
    return phrase.split(" ", 1)[0].lower() in _CLAUSE_START


def _join(items: list[str], conj: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


_TIMING = (  # (prose, shorthand)
    ("since this morning", "since this am"), ("since yesterday", "1/7"), ("for 2 days", "2/7"), ("for 3 days", "3/7"),
    ("for 5 days", "5/7"), ("for a week", "1/52"), ("for 2 weeks", "2/52"), ("for a month", "4/52"),
    ("for 3 months", "3/12"), ("for 6 hours", "6h"), ("for several months", "several months"), ("for a few hours", "few hrs"),
)
_SOCIAL_ADULT = (("is a non-smoker", "non-smoker", "I don't smoke"), ("smokes 10 cigarettes a day", "smoker 10/day", "I smoke about ten a day"),
                 ("is an ex-smoker", "ex-smoker", "I gave up smoking years ago"), ("drinks alcohol socially", "EtOH socially", "I drink at weekends"),
                 ("works in an office", "office worker", "I work in an office"), ("is retired", "retired", "I'm retired"),
                 ("works as a teacher", "teacher", "I'm a teacher"), ("lives alone", "lives alone", "I live alone"),
                 ("recently travelled abroad", "recent travel", "I was on holiday last month"))
_SOCIAL_CHILD = (("attends school", "at school", "they go to school"), ("lives with both parents", "lives with parents", "we live at home"),
                 ("is fully immunised", "imms up to date", "their vaccinations are up to date"))
_MEDS = (("takes no regular medication", "no regular meds", "I'm not on any tablets"),
         ("takes atorvastatin", "DH atorvastatin", "I take a statin"), ("takes amlodipine", "DH amlodipine", "I take amlodipine"),
         ("takes vitamin D", "DH vit D", "I take vitamin D"), ("has no known drug allergies", "NKDA", "I have no allergies"),
         ("is allergic to penicillin", "pen allergic", "I'm allergic to penicillin"))


class CaseGenerator:
    """Generate cases for the conditions of ``kb``. ``sparse_share``: share of cases with 1-2 findings."""

    def __init__(self, kb: KnowledgeBase, synonyms: dict | None = None, clinical_findings: dict | None = None,
                 registers: tuple[str, ...] = REGISTERS, sparse_share: float = 0.3, negatives_share: float = 0.6,
                 context_share: float = 0.6, language: str = "en", screening_share: float = 0.5,
                 long_share: float = 0.7):
        from medviz.text.synth import render_zh

        bad = [r for r in registers if r not in REGISTERS]
        if bad or not registers:
            raise KnowledgeBaseError(f"registers must be among {', '.join(REGISTERS)}, got {', '.join(registers) or 'none'}")
        if language not in render_zh.LANGUAGES:
            raise KnowledgeBaseError(f"language must be one of {', '.join(render_zh.LANGUAGES)}, got {language!r}")
        self.kb = kb
        self.language = language
        self.synonyms = load_synonyms() if synonyms is None else synonyms
        self.clinical = load_clinical_findings() if clinical_findings is None else clinical_findings
        if language == "zh":  # Chinese names and clinician findings (the authors' translations, zh.json)
            self.synonyms = render_zh.zh_synonyms()
            self.clinical = render_zh.zh_clinical_findings(self.clinical)
        self.registers = registers
        self.sparse_share, self.negatives_share, self.context_share = sparse_share, negatives_share, context_share
        self.screening_share, self.long_share = screening_share, long_share
        self.look_alikes = look_alikes(kb)
        by_slug = kb.by_slug()
        self._negative_pool: dict[str, list[str]] = {}
        for c in kb.conditions:
            own = {s for s, _ in c.symptoms}
            pool: list[str] = []
            for other in self.look_alikes[c.slug]:
                pool += [s for s, p in by_slug[other].symptoms if p >= 20 and s not in own and s not in pool]
            self._negative_pool[c.slug] = pool
        # Screening negatives: the most prevalent symptoms over the whole knowledge base (sum of frequencies),
        # e.g. chest pain, shortness of breath, fever; each condition may deny those it lacks.
        m, slugs = kb.frequency_matrix()
        common = [slugs[j] for j in np.argsort(-m.sum(axis=0), kind="stable")[:SCREENING_FINDINGS]]
        self._screening_pool = {c.slug: [s for s in common if s not in {x for x, _ in c.symptoms}]
                                for c in kb.conditions}

    # --- names -------------------------------------------------------------------------------
    def names(self, slug: str, register: str) -> list[str]:
        """Names of a symptom for a register: lay (patient) or clinical (shorthand, vignette)."""
        entry = self.synonyms.get(slug, {})
        lay = list(entry.get("lay") or []) or [self.kb.symptom_names[slug].lower()]
        clinical = list(entry.get("clinical") or [])
        if register == "patient":
            return lay
        return clinical or lay

    def _name(self, rng: np.random.Generator, slug: str, register: str, negated: bool = False) -> str:
        quoting = register == "vignette" and not negated and rng.random() < 0.3
        options = self.names(slug, "patient" if quoting else register)
        if quoting:  # vignettes use the patient's words now and then, as noun phrases
            options = [o for o in options if not _is_clause(o)] or self.names(slug, register)
        if negated and register == "patient":  # "I don't have …" needs a noun phrase
            options = [o for o in options if not _is_clause(o)] or self.names(slug, "shorthand")
        return options[int(rng.integers(len(options)))]

    # --- sampling -----------------------------------------------------------------------------
    def _patient(self, rng: np.random.Generator, c: Condition) -> tuple[int, str]:
        w = np.asarray(c.age_odds) * np.asarray(AGE_BAND_VISIT_SHARE)
        band = int(rng.choice(len(w), p=w / w.sum()))
        lo, hi = AGE_RANGES[band]
        age = int(rng.integers(lo, hi + 1))
        s = np.asarray(c.sex_odds)
        return age, SEXES[int(rng.choice(2, p=s / s.sum()))]

    def _findings(self, rng: np.random.Generator, c: Condition) -> tuple[str, tuple[str, ...]]:
        slugs = [s for s, p in c.symptoms if p > 0]
        p = np.array([pp for _, pp in c.symptoms if pp > 0]) / 100.0
        if rng.random() < self.sparse_share:
            k = min(len(slugs), 1 + int(rng.random() < 0.5))
            pick = rng.choice(len(slugs), size=k, replace=False, p=p / p.sum())
            return "sparse", tuple(slugs[i] for i in pick)
        chosen = np.flatnonzero(rng.random(len(slugs)) < p)
        if chosen.size == 0:
            chosen = np.array([rng.choice(len(slugs), p=p / p.sum())])
        # chief complaint first: order by frequency jittered
        order = chosen[np.argsort(-(p[chosen] * rng.uniform(0.5, 1.5, chosen.size)), kind="stable")]
        return "typical", tuple(slugs[i] for i in order[:MAX_FINDINGS])

    def generate(self, per_condition: int, seed: int) -> list[SynthCase]:
        """``per_condition`` cases per condition (conditions in slug order), deterministic in ``seed``."""
        if per_condition < 1:
            raise KnowledgeBaseError(f"per_condition must be at least 1, got {per_condition}")
        return [case for c in self.kb.conditions for case in self.cases_for(c, per_condition, seed)]

    def cases_for(self, c: Condition, n: int, seed: int) -> list[SynthCase]:
        rng = _seed_for(seed, c.slug if self.language == "en" else f"{c.slug}:{self.language}")
        out = []
        for i in range(n):
            register = self.registers[i % len(self.registers)]
            age, sex = self._patient(rng, c)
            kind, findings = self._findings(rng, c)
            negatives: tuple[str, ...] = ()
            pool = self._negative_pool[c.slug]
            if pool and rng.random() < self.negatives_share:
                k = min(len(pool), 1 + int(rng.integers(3)))
                negatives = tuple(pool[j] for j in sorted(rng.choice(len(pool), size=k, replace=False)))
            screen = [s for s in self._screening_pool[c.slug] if s not in negatives
                      and not ("pregnan" in s and (sex == "Male" or age < 12))]
            if screen and rng.random() < self.screening_share:
                k = min(len(screen), 1 + int(rng.integers(4)))
                negatives += tuple(screen[j] for j in rng.choice(len(screen), size=k, replace=False))
            extra = []
            if register != "patient" and kind == "typical":
                extra = [ph for ph, pct in self.clinical.get(c.slug, {}).items() if rng.random() < pct / 100.0]
                extra = [_pick_alternative(rng, ph) for ph in extra[:3]]
            text = self._render(rng, register, age, sex, findings, negatives, extra)
            out.append(SynthCase(text, c.name, c.slug, register, age, sex, kind, findings, negatives, self.language))
        return out

    # --- rendering ----------------------------------------------------------------------------
    def _render(self, rng, register, age, sex, findings, negatives, extra) -> str:
        pos = [self._name(rng, s, register) for s in findings]
        neg = [self._name(rng, s, register, negated=True) for s in negatives]
        timing = _TIMING[int(rng.integers(len(_TIMING)))]
        context = []
        if rng.random() < self.context_share:
            pool = _SOCIAL_CHILD if age < 16 else _SOCIAL_ADULT
            context.append(pool[int(rng.integers(len(pool)))])
        if age >= 16 and rng.random() < self.context_share * 0.7:
            context.append(_MEDS[int(rng.integers(len(_MEDS)))])
        if self.language == "zh":
            return _render_zh(rng, register, age, sex, pos, neg, extra, context)
        history = _history(rng, register, age, sex, findings) if rng.random() < self.long_share else ""
        if history:  # the history states the drugs
            context = [c for c in context if c not in _MEDS]
        if register == "patient":
            text = _patient_text(rng, age, sex, pos, neg, timing[0], [c[2] for c in context])
        elif register == "shorthand":
            text = _shorthand_text(rng, age, sex, pos + extra, neg, timing[1], [c[1] for c in context])
        else:
            text = _vignette_text(rng, age, sex, pos + extra, neg, timing[0], [c[0] for c in context])
        return f"{text} {history}" if history else text


# Long-note context (since 2.5.0), drawn independently of the condition: past history, drug history,
# family history, observations. (clinician phrase, shorthand, patient's words)
_PMH = (("hypertension", "HTN", "I have high blood pressure"), ("type 2 diabetes", "T2DM", "I'm diabetic"),
        ("asthma", "asthma", "I have asthma"), ("hypothyroidism", "hypothyroid", "I have an underactive thyroid"),
        ("high cholesterol", "hypercholesterolaemia", "I have high cholesterol"), ("osteoarthritis", "OA knees", "I have arthritis in my knees"),
        ("depression", "depression", "I've had depression in the past"), ("reflux", "GORD", "I get heartburn sometimes"),
        ("an appendicectomy as a child", "appendicectomy", "I had my appendix out as a kid"),
        ("no significant past medical history", "nil PMH", "I'm normally fit and well"),
        ("a hernia repair", "hernia repair", "I had a hernia repaired"), ("migraines in the past", "hx migraine", "I used to get migraines"),
        ("eczema", "eczema", "I have eczema"), ("gout", "gout", "I've had gout"))
_DRUGS = (("metformin", "metformin 500mg BD"), ("ramipril", "ramipril 5mg OD"), ("levothyroxine", "levothyroxine 50mcg"),
          ("omeprazole", "omeprazole 20mg OD"), ("a salbutamol inhaler", "salbutamol PRN"), ("sertraline", "sertraline 50mg"),
          ("paracetamol as needed", "paracetamol PRN"), ("atorvastatin", "atorvastatin 20mg ON"), ("the combined pill", "COCP"),
          ("amlodipine", "amlodipine 5mg"), ("no regular medication", "nil regular"), ("bisoprolol", "bisoprolol 2.5mg"))
_FAMILY = (("Her father had a heart attack at 70.", "FHx IHD (father)"), ("There is no relevant family history.", "FHx nil of note"),
           ("Her mother has type 2 diabetes.", "FHx T2DM"), ("A sister has asthma.", "FHx asthma"),
           ("His grandmother had breast cancer.", "FHx ca breast (grandmother)"))
_EXTRA_PROSE = ("Symptoms started gradually.", "Symptoms came on suddenly.", "Paracetamol has helped a little.",
                "Nothing seems to make it better.", "The GP saw the patient two days ago and advised rest.",
                "This is the first episode.", "Similar episodes have happened before.", "Sleep has been disturbed.",
                "Eating and drinking normally.", "Worried it might be something serious.")
_EXTRA_SHORT = ("gradual onset", "sudden onset", "some relief w/ paracetamol", "nil exacerbating/relieving factors",
                "seen by GP 2/7 ago, advised rest", "first episode", "similar episodes before", "sleep disturbed",
                "eating and drinking OK", "ICE: worried re serious cause")


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _history(rng, register, age, sex, findings) -> str:
    """Past, drug and family history, course and (sometimes) observations: the rest of a real note."""
    n_pmh = int(rng.integers(1, 4)) if age >= 16 else 0
    pmh = [_PMH[j] for j in rng.choice(len(_PMH), size=n_pmh, replace=False)] if n_pmh else []
    drugs = [_DRUGS[j] for j in rng.choice(len(_DRUGS), size=int(rng.integers(1, 3)), replace=False)] if age >= 16 else []
    if len(drugs) > 1 or sex == "Male":
        drugs = [d for d in drugs if d[1] != "nil regular" and (d[1] != "COCP" or sex != "Male")]
    fam = _pick(rng, _FAMILY)
    course = [j for j in rng.choice(len(_EXTRA_PROSE), size=int(rng.integers(1, 4)), replace=False)]
    obs = rng.random() < 0.4 and not {"fever", "shortness-of-breath", "palpitations"} & set(findings)
    hr, sbp, rr, temp, sat = (int(rng.integers(64, 96)), int(rng.integers(112, 146)), int(rng.integers(12, 19)),
                              round(float(rng.uniform(36.3, 37.4)), 1), int(rng.integers(96, 100)))
    if register == "patient":
        parts = [p[2] + "." for p in pmh] + ([f"I take {_join([d[0] for d in drugs])}."] if drugs else [])
        parts += [_EXTRA_PROSE[j] for j in course[:1]]
        return " ".join(parts)
    if register == "shorthand":
        parts = [", ".join(_EXTRA_SHORT[j] for j in course) + "."]
        if pmh:
            parts.append("PMH: " + ", ".join(p[1] for p in pmh) + ".")
        if drugs:
            parts.append("DH: " + ", ".join(d[1] for d in drugs) + ".")
        parts.append(fam[1] + ".")
        if obs:
            parts.append(f"Obs: HR {hr}, BP {sbp}/{int(rng.integers(64, 90))}, RR {rr}, T {temp}, SpO2 {sat}% RA.")
        return " ".join(parts)
    he = "He" if sex == "Male" else "She"
    parts = [_EXTRA_PROSE[j] for j in course]
    if pmh:
        parts.append(f"Past history includes {_join([p[0] for p in pmh])}.")
    if drugs:
        parts.append(f"{he} takes {_join([d[0] for d in drugs])}.")
    parts.append(fam[0].replace("Her ", "His " if sex == "Male" else "Her ") if fam[0].startswith("Her ") else fam[0])
    if obs:
        parts.append(f"Heart rate {hr}, blood pressure {sbp}/{int(rng.integers(64, 90))}, temperature {temp} °C, "
                     f"oxygen saturation {sat}% on air.")
    return " ".join(parts)


def _render_zh(rng, register, age, sex, pos, neg, extra, context) -> str:
    """A Chinese case: timing and context drawn from the Chinese templates (same draws as English)."""
    from medviz.text.synth import render_zh

    t = render_zh.load_zh()["templates"]
    timing = tuple(t["timing"][int(rng.integers(len(t["timing"])))])
    zh_context = []
    for c in context:  # the English context tuple's pool and index select the Chinese phrase
        pool, key = ((_SOCIAL_CHILD, "social_child") if c in _SOCIAL_CHILD else (_SOCIAL_ADULT, "social_adult")
                     if c in _SOCIAL_ADULT else (_MEDS, "medication"))
        zh_context.append(tuple(t[key][pool.index(c)]))
    return render_zh.render(rng, register, age, sex, pos, neg, extra, timing, zh_context)


def _pick_alternative(rng, phrase: str) -> str:
    options = [p.strip() for p in phrase.split(" / ")]
    return options[int(rng.integers(len(options)))]


def _person(age: int, sex: str) -> tuple[str, str, str]:
    """(noun, subject pronoun, possessive) for vignette prose."""
    male = sex == "Male"
    if age < 1:
        noun = "baby boy" if male else "baby girl"
    elif age < 16:
        noun = "boy" if male else "girl"
    else:
        noun = "man" if male else "woman"
    return noun, ("he" if male else "she"), ("his" if male else "her")


def _age_words(age: int, rng) -> str:
    if age < 1:
        return f"{int(rng.integers(1, 12))}-month-old"
    return f"{age}-year-old"


def _patient_text(rng, age, sex, pos, neg, timing, context) -> str:
    nouns = [p for p in pos if not _is_clause(p)]
    clauses = [p for p in pos if _is_clause(p)]
    child = age < 16
    parts = []
    if child:
        who = ("son" if sex == "Male" else "daughter")
        subject = f"My {who}" if rng.random() < 0.5 else f"My {age if age else 'baby'}{'-year-old' if age else ''} {who}".replace("baby-year-old", "baby")
        if nouns:
            parts.append(f"{subject} has had {_join(nouns)} {timing}.")
        for c in clauses:
            parts.append(f"Also {c}.")
        if neg:
            parts.append(f"No {_join(neg, 'or')}.")
    else:
        intro = ""
        if rng.random() < 0.4:
            intro = f"I'm a {age} year old {'man' if sex == 'Male' else 'woman'}. "
        opener = ("I've had", "I have been having", "For the past while I've had", "I keep getting")[int(rng.integers(4))]
        if nouns:
            t = timing if opener != "I keep getting" else ""
            parts.append(f"{intro}{opener} {_join(nouns)} {t}".rstrip() + ".")
        elif intro:
            parts.append(intro.strip())
        for c in clauses:
            parts.append(c[0].upper() + c[1:] + ("." if c[-1] != "." else ""))
        if neg:
            parts.append(_pick(rng, ("I don't have {n}.", "No {n}.", "I haven't had any {n}.", "There's been no {n}.",
                                     "Not had any {n}.")).format(n=_join(neg, "or")))
    parts += [c[0].upper() + c[1:] + "." for c in context]
    return " ".join(parts)


def _shorthand_text(rng, age, sex, pos, neg, timing, context) -> str:
    s = sex[0]
    if age < 1:
        who = f"{int(rng.integers(1, 12))}/12 old {'boy' if sex == 'Male' else 'girl'}"
    else:
        who = (f"{age}{s}", f"{age} y/o {s}", f"{age}yo {'male' if s == 'M' else 'female'}", f"Pt {age}{s}")[int(rng.integers(4))]
    sep = (", ", "; ", " + ")[int(rng.integers(3))]
    text = f"{who} c/o {sep.join(pos)}, {timing}."
    if neg:
        text += " " + _negation_shorthand(rng, neg)
    if context:
        text += " " + ". ".join(context) + "."
    return text


def _cap(x: str) -> str:
    return x[0].upper() + x[1:]


# Denied findings in clinician shorthand, the negation before or after the finding; the last form needs two.
_SHORTHAND_NEGATIONS = (
    lambda neg: f"Denies {', '.join(neg)}.",
    lambda neg: f"No {', '.join(neg)}.",
    lambda neg: " ".join(f"{_cap(n)}: no." for n in neg),
    lambda neg: ", ".join(f"{n} -ve" for n in neg) + ".",
    lambda neg: f"Nil {'/'.join(neg)}.",
    lambda neg: f"ROS neg for {', '.join(neg)}.",
    lambda neg: " ".join(f"{_cap(n)} - none." for n in neg),
    lambda neg: f"{_join(neg)} denied.",
    lambda neg: f"Neither {neg[0]} nor {neg[1]}.",
)
# The same in vignette prose ({he}: the capitalised pronoun).
_PROSE_NEGATIONS = (
    lambda neg, he: f"{he} denies {_join(neg, 'or')}.",
    lambda neg, he: f"There is no {_join(neg, 'or')}.",
    lambda neg, he: f"{he} has not had any {_join(neg, 'or')}.",
    lambda neg, he: f"Review of systems is negative for {_join(neg)}.",
    lambda neg, he: f"No {_join(neg, 'or')} reported.",
    lambda neg, he: f"{_cap(_join(neg))} {'are' if len(neg) > 1 else 'is'} denied.",
    lambda neg, he: f"{he} has had neither {neg[0]} nor {neg[1]}.",
)


def _negation_form(rng, forms: tuple, neg: list[str]):
    """One of ``forms`` at random; the last ("neither X nor Y") only for exactly two findings."""
    return forms[int(rng.integers(len(forms) if len(neg) == 2 else len(forms) - 1))]


def _negation_shorthand(rng, neg: list[str]) -> str:
    """Denied findings in one of a dozen clinician forms, the negation before or after the finding."""
    return _negation_form(rng, _SHORTHAND_NEGATIONS, neg)(neg)


def _negation_prose(rng, neg: list[str], he: str) -> str:
    """Denied findings in vignette prose, in one of several forms."""
    return _negation_form(rng, _PROSE_NEGATIONS, neg)(neg, he.capitalize())


def _vignette_text(rng, age, sex, pos, neg, timing, context) -> str:
    noun, he, his = _person(age, sex)
    age_words = _age_words(age, rng)
    article = "An" if age_words.startswith(("8", "11", "18")) else "A"
    verb = "is brought in by " + ("his" if sex == "Male" else "her") + " mother with" if age < 12 else \
        ("presents with", "reports", "attends with", "presents to the clinic with")[int(rng.integers(4))]
    first, rest = pos[:2], pos[2:]
    text = f"{article} {age_words} {noun} {verb} {_join(first)} {timing}."
    if rest:
        text += f" {he.capitalize()} also {'has' if rng.random() < 0.5 else 'reports'} {_join(rest)}."
    if neg:
        text += " " + _negation_prose(rng, neg, he)
    for c in context:
        text += f" {he.capitalize()} {c}."
    return text


def write_cases_jsonl(cases: list[SynthCase], path: str | Path) -> Path:
    """Write one JSON object per case (fields of :class:`SynthCase`) to a temp file, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for case in cases:
                fh.write(json.dumps(asdict(case), ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
