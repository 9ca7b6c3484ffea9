"""A text model's vocabulary without patient identifiers (issue 17, item 8).

The vocabulary is saved inside the bundle (the TextVectorization layer) and shown on the Explanations
page, so it must not carry what identifies a patient in the training notes:

1. **Identifiers are stripped from the notes before the vocabulary is built** (:func:`scrub_identifiers`):
   e-mail addresses, dates (numeric, ISO, and day/month-name forms), telephone numbers, and MRN-like
   codes (an optional MRN/ID label followed by a code of 5+ digits, or letters and 4+ digits mixed).
   Hand-written regular expressions: the de-identification libraries on PyPI (scrubadub, philter,
   presidio) either download models or corpora at runtime, which this project forbids, or add a
   spaCy pipeline per note; these four HIPAA Safe-Harbor categories are regular in form.
2. **Rare tokens are dropped**: a token must appear in at least ``min_notes`` distinct training notes
   (document frequency, counted after the model's own standardisation) — names, addresses and other
   free-form identifiers of one patient are, by construction, in few notes. Default k = 3
   (:data:`DEFAULT_MIN_NOTES`), the CLI's ``--min-note-count``.
3. Tokens that still look like codes after standardisation (5+ digits, or letters mixed with 4+
   digits) are dropped as well.

The model still reads the raw note at training and at inference; words outside the vocabulary become
the out-of-vocabulary token. The counts go into the manifest (``architecture.vocabulary``).
"""
from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

DEFAULT_MIN_NOTES = 3
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_PATTERNS = [
    ("email", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)),
    ("date", re.compile(
        r"\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
        rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\s*,?\s*\d{{2,4}}|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\s*,?\s*\d{{2,4}})\b",
        re.I)),
    ("phone", re.compile(r"(?<![\w])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?![\w])")),
    ("mrn", re.compile(r"\b(?:(?:mrn|mr|nhs|id|record|patient)\s*(?:no\.?|number|#)?\s*[:#]?\s*)?"
                       r"(?:\d{5,}|(?=[a-z0-9-]*\d{4})(?=[a-z0-9-]*[a-z])[a-z0-9][a-z0-9-]{4,})\b", re.I)),
]
_CODE_TOKEN = re.compile(r"\d{5,}|(?=.*\d{4})(?=.*[a-z])[a-z0-9]+")


def scrub_identifiers(text: str) -> str:
    """``text`` with e-mails, dates, phone numbers and MRN-like codes replaced by a space."""
    for _, pattern in _PATTERNS:
        text = pattern.sub(" ", text)
    return text


# A person's name after a title or a name field ("Mr John Harris", "Re: Mrs A. Patel", "Name: Jane Doe"): removed from
# a case before it is saved (:func:`remove_identifiers`). Hand-written: the maintained de-identification tools
# (Philter, Presidio's spaCy NER models) need models or data this install cannot download; a name without a title or
# field label is not found, which the page says.
_NAME_WORD = r"[A-Z](?:[a-z]+|['’][A-Z][a-z]+)(?:-[A-Z][a-z]+)?"  # Harris, O'Brien, Smith-Jones
_NAME = re.compile(
    rf"\b(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+(?:[A-Z]\.?\s*){{0,2}}{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,2}}"
    rf"|(?:(?i:patient\s+name|name|re|patient)\s*:[ \t]*)(?:[A-Z]\.?\s*){{0,2}}{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,3}})")
SAVE_PATTERNS = [("name", _NAME), *_PATTERNS]
REMOVED = "[removed]"


def remove_identifiers(text: str) -> tuple[str, list[str]]:
    """``text`` with names after a title or a name field (Mr/Mrs/Ms/Miss/Mx/Dr/Prof, "Name:", "Re:", "Patient:"),
    e-mails, dates, phone numbers and MRN-like codes each replaced by ``[removed]``, and the kinds removed (in
    :data:`SAVE_PATTERNS` order, never the matches). For a case saved from the pages (medviz.ui.cases): the text a
    clinician typed may hold a letter's header."""
    kinds = []
    for kind, pattern in SAVE_PATTERNS:
        text, n = pattern.subn(REMOVED, text)
        if n:
            kinds.append(kind)
    return text, kinds


def identifier_kinds(text: str) -> list[str]:
    """Which identifier kinds occur in ``text`` (for tests and counts; never the matches)."""
    return [kind for kind, pattern in _PATTERNS if pattern.search(text)]


def fit_vocabulary(vectorizer: Any, texts: Sequence[str], min_notes: int = DEFAULT_MIN_NOTES) -> dict[str, int]:
    """Set ``vectorizer``'s vocabulary (a Keras ``TextVectorization``, int mode) from ``texts``.

    Tokens are ordered by corpus frequency as ``adapt`` does, capped at the layer's ``max_tokens``
    (which counts the padding and OOV tokens), after steps 1-3 of the module docstring.
    Returns counts for the manifest: candidate tokens, dropped as rare, dropped as codes, kept, and
    notes in which an identifier was stripped.
    """
    import keras
    import tensorflow as tf

    if min_notes < 1:
        raise ValueError("min_notes must be at least 1")
    scrubbed = [scrub_identifiers(str(t)) for t in texts]
    cfg = vectorizer.get_config()
    probe = keras.layers.TextVectorization(standardize=cfg["standardize"], split=cfg["split"], output_mode="int")
    probe.adapt(scrubbed)
    candidates = probe.get_vocabulary()[2:]  # without "" (padding) and "[UNK]"
    notes_with = np.zeros(len(candidates) + 1, dtype=np.int64)
    counter = keras.layers.TextVectorization(standardize=cfg["standardize"], split=cfg["split"],
                                             output_mode="multi_hot", vocabulary=candidates)
    for i in range(0, len(scrubbed), 256):
        notes_with += np.asarray(counter(tf.constant(scrubbed[i : i + 256]))).sum(axis=0).astype(np.int64)
    df = notes_with[1:]  # index 0 is the OOV slot
    rare = df < min_notes
    code = np.array([bool(_CODE_TOKEN.fullmatch(t)) for t in candidates], dtype=bool)
    keep = [t for t, r, c in zip(candidates, rare, code) if not r and not c]
    cap = cfg.get("max_tokens")
    if cap:
        keep = keep[: max(cap - 2, 0)]
    vectorizer.set_vocabulary(keep)
    return {
        "min_notes": int(min_notes),
        "candidate_tokens": len(candidates),
        "dropped_rare": int(rare.sum()),
        "dropped_codes": int((code & ~rare).sum()),
        "kept": len(keep),
        "notes_with_identifiers_stripped": sum(a != b for a, b in zip(texts, scrubbed)),
    }
