"""One case (or a batch) through a text bundle with every clinical-safety check: the single entry point
the Case page and CSV scoring call.

raw text -> preprocessing named in the manifest (clinician-register normalisation, negation) ->
model (calibrated probabilities, attention, logits) -> conformal set, out-of-scope score and flag,
low-confidence rule, plain-English warnings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from medviz.errors import InputError
from medviz.text.clinical import Preprocessed, ScopedFinding, Term, findings_of_kind
from medviz.text.conformal import ConformalCalibration, prediction_sets
from medviz.text.ood import OutOfScopeDetector
from medviz.text.predict import TextPredictor, Token
from medviz.text.synth.bayes import with_expert

# Low-confidence rule (CLINICAL.md W6): top probability under this, or a conformal set this large.
LOW_CONFIDENCE_TOP_PROBABILITY = 0.5
LOW_CONFIDENCE_SET_SIZE = 4
SET_SEPARATOR = "|"

OUT_OF_SCOPE_WARNING = (
    "This case may be outside what the model was trained for: treat the list below with caution."
)


@dataclass(frozen=True)
class CaseAnalysis:
    text: str  # the case as typed (cut to the input limit)
    labels: tuple[str, ...]
    probabilities: np.ndarray  # (C,) calibrated, in label order
    ranked: tuple[tuple[str, float], ...]  # (label, probability), high to low
    prediction_set: tuple[str, ...]  # conformal set, ranked
    coverage: float | None  # target coverage of the set (None: bundle has no conformal calibration)
    out_of_scope: bool
    out_of_scope_score: float | None  # higher = less like the training cases
    out_of_scope_threshold: float | None
    low_confidence: bool
    negated: tuple[ScopedFinding, ...]  # findings read as absent (kind "negated") or uncertain ("hedged")
    recognised_terms: tuple[Term, ...]
    model_text: str  # what the model read
    tokens: tuple[Token, ...]  # tokens of model_text, aligned with attention
    attention: np.ndarray  # (L,) attention weights over model_text's tokens
    unknown_share: float
    truncated: bool
    warnings: tuple[str, ...]

    @property
    def negated_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "negated")

    @property
    def hedged_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "hedged")

    def differential_sentence(self) -> str:
        if self.coverage is None:
            return ""
        if not self.prediction_set:
            return (
                f"No diagnosis is probable enough to include at {self.coverage:.0%} coverage on held-out cases: "
                "the model cannot stand behind any of its diagnoses for this case."
            )
        items = ", ".join(self.prediction_set)
        return f"With {self.coverage:.0%} coverage on held-out cases, the diagnosis is among: {items}."


@dataclass(frozen=True)
class SafetyConfig:
    """The bundle's calibrated safety settings, read once from its manifest."""

    preprocessing: str
    conformal: ConformalCalibration | None
    detector: OutOfScopeDetector | None

    @classmethod
    def from_manifest(cls, manifest: Mapping) -> "SafetyConfig":
        from medviz.text.conformal import ConformalCalibration
        from medviz.text.preprocess import bundle_preprocessing

        conf = manifest.get("conformal")
        oos = manifest.get("out_of_scope")
        return cls(
            preprocessing=bundle_preprocessing(manifest),
            conformal=ConformalCalibration.from_manifest(conf) if conf else None,
            detector=OutOfScopeDetector.from_manifest(oos) if oos else None,
        )


def _preprocess(kind: str, text: str) -> Preprocessed:
    if kind == "clinical":
        from medviz.text.clinical import preprocess

        return preprocess(text)
    return Preprocessed(original=text, model_text=text, terms=(), negated=())


def _unknown_share(predictor: TextPredictor, tokens) -> float:
    return 1.0 - sum(t.known for t in tokens) / len(tokens) if tokens else 1.0


def analyse_case(predictor: TextPredictor, text: str | None) -> CaseAnalysis:
    """Everything the Case page shows for one free-text case. Raises InputError for empty input."""
    from medviz.text.inputs import MAX_CHARS, check_text

    if text is None or not str(text).strip():
        raise InputError("case text is empty: describe the patient's symptoms in a sentence or two")
    text = str(text)
    warnings: list[str] = []
    if len(text) > MAX_CHARS:
        warnings.append(f"The text is {len(text):,} characters long; only the first {MAX_CHARS:,} were considered.")
        text = text[:MAX_CHARS]
    cfg = SafetyConfig.from_manifest(predictor.bundle.manifest)
    pre = _preprocess(cfg.preprocessing, text)
    if not re.search(r"[A-Za-z0-9]", pre.model_text):
        raise InputError(
            "every finding in the text was read as absent or uncertain ("
            + "; ".join(f.text for f in pre.negated)
            + "): there is nothing left for the model to read. Describe the findings that are present."
        )
    check = check_text(predictor, pre.model_text)
    warnings.extend(check.warnings)
    pred = predictor.predict([check.text])
    probs = with_expert(predictor.bundle, [text], pred.probabilities)[0]
    labels = tuple(predictor.bundle.labels)
    order = np.argsort(-probs, kind="stable")
    ranked = tuple((labels[i], float(probs[i])) for i in order)

    if cfg.conformal is not None:
        member = prediction_sets(probs[None, :], cfg.conformal)[0]
        pset = tuple(labels[i] for i in order if member[i])
    else:
        pset = (labels[order[0]],)
    unknown = _unknown_share(predictor, check.tokens)
    oos_score = oos = None
    if cfg.detector is not None:
        oos_score = float(cfg.detector.score(pred.logits, np.array([unknown]))[0])
        oos = bool(cfg.detector.flag(np.array([oos_score]))[0])
    low = bool(probs[order[0]] < LOW_CONFIDENCE_TOP_PROBABILITY or len(pset) >= LOW_CONFIDENCE_SET_SIZE or not pset)
    if oos:
        warnings.insert(0, OUT_OF_SCOPE_WARNING)
    if low:
        warnings.append(_low_confidence_text(float(probs[order[0]]), len(pset)))
    return CaseAnalysis(
        text=text,
        labels=labels,
        probabilities=probs,
        ranked=ranked,
        prediction_set=pset,
        coverage=cfg.conformal.coverage if cfg.conformal else None,
        out_of_scope=bool(oos),
        out_of_scope_score=oos_score,
        out_of_scope_threshold=cfg.detector.threshold if cfg.detector else None,
        low_confidence=low,
        negated=pre.negated,
        recognised_terms=pre.terms,
        model_text=check.text,
        tokens=check.tokens,
        attention=pred.attention[0],
        unknown_share=unknown,
        truncated=check.truncated,
        warnings=tuple(warnings),
    )


def _low_confidence_text(top: float, set_size: int) -> str:
    size = "an empty conformal set" if set_size == 0 else f"a conformal set of {set_size}"
    return (
        f"Low confidence: the top diagnosis has {top:.0%} probability and {size} "
        f"(rule: top under {LOW_CONFIDENCE_TOP_PROBABILITY:.0%}, or a set that is empty or has "
        f"{LOW_CONFIDENCE_SET_SIZE} or more diagnoses)."
    )


def has_no_tokens(texts: list[str]) -> np.ndarray:
    """True where a text has no letter or digit left (nothing for the model to read)."""
    return ~pd.Series(texts, dtype=object).str.contains(r"[A-Za-z0-9]", regex=True).to_numpy(dtype=bool)


def analyse_batch(
    predictor: TextPredictor, texts: list[str], batch_size: int = 2048, model_texts: list[str] | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Batch form for CSV scoring: calibrated probabilities (N, C) and the safety columns
    ``prediction_set``, ``out_of_scope``, ``out_of_scope_score``, ``warnings`` (one row per text).
    Texts must be non-empty (the scorer reports empty ones as errors before calling this)."""
    from medviz.text.predict import unknown_shares
    from medviz.text.preprocess import apply_preprocessing

    cfg = SafetyConfig.from_manifest(predictor.bundle.manifest)
    if model_texts is None:  # the caller may have preprocessed already (score_csv does it in the reading thread)
        model_texts = apply_preprocessing(cfg.preprocessing, list(texts))
    pred = predictor.predict(model_texts, batch_size=batch_size)
    probs = with_expert(predictor.bundle, list(texts), pred.probabilities)
    n = len(model_texts)
    labels = np.asarray(predictor.bundle.labels, dtype=object)
    # No full sort of (N, C): with hundreds of labels it would cost more than the model (issue 15).
    first = probs.argmax(axis=1) if n else np.zeros(0, dtype=int)
    if cfg.conformal is not None:
        member = prediction_sets(probs, cfg.conformal)
    else:
        member = np.zeros_like(probs, dtype=bool)
        member[np.arange(n), first] = True
    size = member.sum(axis=1)
    # Most sets hold one label (the top one): take it directly; only larger sets are sorted and joined.
    sets = np.where(size == 1, labels[first] if n else np.zeros(0, dtype=object), "").astype(object)
    for i in np.flatnonzero(size > 1):
        js = np.flatnonzero(member[i])
        js = js[np.argsort(-probs[i, js], kind="stable")]
        sets[i] = SET_SEPARATOR.join(labels[js])
    sets = sets.tolist()
    if pred.unknown is not None:
        unknown = pred.unknown
    else:
        unknown = unknown_shares(predictor.bundle.model, model_texts) if n else np.zeros(0)
    if cfg.detector is not None:
        score = cfg.detector.score(pred.logits, unknown)
        flag = cfg.detector.flag(score)
    else:  # bundle without an out-of-scope detector: the flag is unknown, not "in scope"
        score = np.full(n, np.nan)
        flag = np.zeros(n, dtype=bool)
    top = probs.max(axis=1) if n else np.zeros(0)
    low = (top < LOW_CONFIDENCE_TOP_PROBABILITY) | (size >= LOW_CONFIDENCE_SET_SIZE) | (size == 0)
    # unknown share 1 with no token left = every finding was negated (the scorer drops empty input)
    no_tokens = has_no_tokens(model_texts)
    warnings = [""] * n
    for i in np.flatnonzero(flag | low | no_tokens | (unknown > 0.5)):
        w = []
        if flag[i]:
            w.append("possibly out of scope")
        if low[i]:
            w.append("low confidence")
        if no_tokens[i]:
            w.append("all findings negated")
        elif unknown[i] > 0.5:
            w.append(f"{unknown[i]:.0%} unknown words")
        warnings[i] = "; ".join(w)
    frame = pd.DataFrame(
        {
            "prediction_set": sets,
            "out_of_scope": pd.array(flag.astype(bool), dtype="boolean") if cfg.detector is not None
            else pd.array([pd.NA] * n, dtype="boolean"),
            "out_of_scope_score": score,
            "warnings": warnings,
        }
    )
    return probs, frame
