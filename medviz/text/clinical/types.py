"""The typed result of clinical preprocessing: what the model reads and how the note was read.

Shared by the assertion, vital-sign and abbreviation steps and by every caller (analysis, scoring,
the Case page). Frozen dataclasses so a result can be cached and compared.
"""
from __future__ import annotations

from dataclasses import dataclass

# Assertion statuses of a finding (ConText categories mapped in medviz.text.clinical.assertion).
PRESENT = "present"
ABSENT = "absent"  # negated: "denies fever", "fever: no", "fever-"
UNCERTAIN = "uncertain"  # hedged: "possible UTI", "?pneumonia", "r/o sepsis"
HISTORICAL = "historical"  # "history of asthma", "h/o MI"
OTHER_PERSON = "family/other person"  # "mother has diabetes", "FHx of stroke"
STATUSES = (PRESENT, ABSENT, UNCERTAIN, HISTORICAL, OTHER_PERSON)


@dataclass(frozen=True)
class Term:
    """A clinician-register expression that was recognised and rewritten for the model."""

    text: str  # as typed
    meaning: str  # what the model was given instead ("" = dropped, e.g. a normal vital sign)
    kind: str  # "abbreviation", "term", "spelling", "vital sign", "age/sex", "duration"


@dataclass(frozen=True)
class ScopedFinding:
    """Words read as absent (negated) or uncertain (hedged); they do not reach the model.

    Kept for callers of the earlier interface; :class:`Finding` is the full account."""

    text: str  # the finding as written
    cue: str  # the trigger, e.g. "denies"
    kind: str  # "negated" or "hedged"


@dataclass(frozen=True)
class Finding:
    """A clinical finding (symptom, sign, abnormal vital sign) found in the note, with its status.

    ``phrase`` is the finding as written in the note, lower-cased; ``start``/``end`` are character
    offsets of that phrase in the note as given (``Preprocessed.original``); ``status`` is one of
    :data:`STATUSES`. Only ``present`` findings reach the model."""

    phrase: str
    status: str
    start: int
    end: int


@dataclass(frozen=True)
class VitalSign:
    """One vital-sign reading parsed from the note.

    ``value`` in ``unit`` as written (blood pressure: systolic and diastolic are two readings);
    ``low``/``high`` bound the adult reference range in the same unit (either may be None: one-sided),
    ``source`` names where the range comes from; ``status`` is "low", "normal" or "high";
    ``finding`` is the clinical meaning of an abnormal reading ("tachycardia"), "" when normal."""

    name: str  # "temperature", "heart rate", "respiratory rate", "systolic blood pressure", ...
    text: str  # the reading as written, e.g. "BP 80/50"
    value: float
    unit: str
    low: float | None
    high: float | None
    source: str
    status: str
    finding: str
    start: int
    end: int

    @property
    def reference_range(self) -> str:
        """The adult reference range as text, e.g. "60–100 /min" or "≥ 94 %"."""
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g} {self.unit}"
        if self.low is not None:
            return f"≥ {self.low:g} {self.unit}"
        return f"≤ {self.high:g} {self.unit}"


@dataclass(frozen=True)
class Preprocessed:
    """A note after clinical preprocessing.

    ``model_text`` is what the model reads: the note with every finding that is not present removed
    (with its cue), abnormal vital signs spelled out, normal ones dropped, clinician register
    rewritten. ``findings`` are in reading order; ``not_interpreted`` lists ambiguous short forms left
    as written; ``warnings`` are for the clinician (e.g. fever reported but T 36.8 °C)."""

    original: str
    model_text: str
    terms: tuple[Term, ...]
    negated: tuple[ScopedFinding, ...] = ()  # absent and uncertain findings (earlier interface)
    findings: tuple[Finding, ...] = ()
    vitals: tuple[VitalSign, ...] = ()
    not_interpreted: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def negated_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "negated")

    @property
    def hedged_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "hedged")


def findings_of_kind(scopes, kind: str) -> tuple[str, ...]:
    """The texts of the scoped findings of one kind ("negated" or "hedged"), in reading order."""
    return tuple(f.text for f in scopes if f.kind == kind)


def findings_by_status(pre: Preprocessed, status: str) -> tuple[str, ...]:
    """The phrases (as written, lower-cased) of ``pre``'s findings with ``status``, in reading order.

    Raises ValueError for a status not in :data:`STATUSES`."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    return tuple(f.phrase for f in pre.findings if f.status == status)
