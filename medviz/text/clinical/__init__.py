"""Clinical reading of free text: what the note says is present, absent, uncertain, past or about someone
else, its vital signs against reference ranges, and the text the diagnosis model reads.

The bundled model learned from short descriptions in a patient's voice ("I have a fever and my joints
hurt"). Clinicians write "58M, 3/7 productive cough, T 38.9, crackles R base, denies CP". The steps:

1. **Vital signs** (:mod:`.vitals`): each reading parsed with its unit and labelled low/normal/high
   against an adult reference range (data/vital_ranges.json). Abnormal readings are present findings
   ("SpO2 88%" -> low oxygen saturation) that no negation reaches; normal ones are not findings.
2. **Assertion** (:mod:`.assertion`): medspaCy's TargetMatcher finds findings (data/findings.json:
   SymCat's lay symptom names, the training text's phrases, clinical terms, conditions) and medspaCy's
   ConText (data/context_rules.json) gives each a status: present, absent, uncertain, historical or
   family/other person. Only present findings are evidence: every other finding is removed from the
   model's text with its cue.
3. **Clinician register** (:mod:`.abbreviations`): abbreviations, spellings and medical terms rewritten
   into the lay words of the training text, only where the context fixes their meaning; ambiguous
   short forms are left as written and listed as not interpreted.

The same functions run in training (on the training texts), on the Case page and in CSV scoring; the
bundle manifest records :data:`PREPROCESSING_ID` and the analyser refuses to mix versions.
"""
from __future__ import annotations

from medviz.text.clinical.abbreviations import normalise, not_interpreted
from medviz.text.clinical.assertion import finding_terms, needs_context
from medviz.text.clinical.augment import telegraphic
from medviz.text.clinical.reading import needs_rules, preprocess, preprocess_all, preprocess_many
from medviz.text.clinical.types import (
    ABSENT, HISTORICAL, OTHER_PERSON, PRESENT, STATUSES, UNCERTAIN, Finding, Preprocessed, ScopedFinding, Term,
    VitalSign, findings_by_status, findings_of_kind,
)
from medviz.text.clinical.vitals import parse_vitals

PREPROCESSING_ID = "medviz.text.clinical/4"

preprocess_batch = preprocess_all  # the name medviz.text.preprocess.preprocess_batch looks for

__all__ = [
    "ABSENT", "HISTORICAL", "OTHER_PERSON", "PRESENT", "PREPROCESSING_ID", "STATUSES", "UNCERTAIN", "Finding",
    "Preprocessed", "ScopedFinding", "Term", "VitalSign", "finding_terms", "findings_by_status", "findings_of_kind",
    "needs_context", "needs_rules", "normalise", "not_interpreted", "parse_vitals", "preprocess", "preprocess_all",
    "preprocess_batch", "preprocess_many", "telegraphic",
]
