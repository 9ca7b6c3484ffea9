"""Cohort shift: an evaluated cohort compared with the training data (PSI/KS per feature; vocabulary cover for text)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle


log = logging.getLogger(__name__)

REFERENCE_FILE = "reference.csv"  # training feature values of a tabular bundle (written by the tabular trainer)


# ------------------------------------------------------------------------------------------------
# Cohort shift (E9 / W7)
# ------------------------------------------------------------------------------------------------


PSI_MODERATE = 0.1
PSI_MAJOR = 0.25


@dataclass(frozen=True)
class CohortShift:
    kind: str  # "tabular" | "text"
    table: pd.DataFrame
    verdict: str
    reference: str  # what the cohort was compared with


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index over reference-decile bins (eps 1e-4 avoids log(0)).

    Hand-written: the formula is one line; drift packages (evidently, alibi-detect) pull in large
    dependency trees for it.
    """
    reference = reference[np.isfinite(reference)]
    current = current[np.isfinite(current)]
    if not len(reference) or not len(current):
        return float("nan")
    edges = np.unique(np.percentile(reference, np.linspace(0, 100, bins + 1)))
    if len(edges) < 2:
        edges = np.array([reference[0] - 0.5, reference[0] + 0.5])
    inner = edges[1:-1]
    r = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=len(edges) - 1) / len(reference)
    c = np.bincount(np.searchsorted(inner, current, side="right"), minlength=len(edges) - 1) / len(current)
    r, c = np.clip(r, 1e-4, None), np.clip(c, 1e-4, None)
    return float(((c - r) * np.log(c / r)).sum())


def _psi_verdict(v: float) -> str:
    if not np.isfinite(v):
        return "no values"
    if v < PSI_MODERATE:
        return "similar"
    if v < PSI_MAJOR:
        return "moderate shift"
    return "major shift"


def _reference_frame(bundle: ModelBundle) -> tuple[pd.DataFrame | None, str]:
    if REFERENCE_FILE in (bundle.manifest.get("files") or {}):
        try:
            return pd.read_csv(bundle.file(REFERENCE_FILE)), "training data (the bundle's reference.csv)"
        except (OSError, ValueError) as exc:
            log.warning("could not read %s: %s", REFERENCE_FILE, type(exc).__name__)
    if bundle.test_predictions is not None:
        return bundle.test_predictions, "the bundle's held-out test data (no training reference stored in this bundle)"
    return None, ""


def tabular_shift(bundle: ModelBundle, cohort: pd.DataFrame) -> CohortShift | None:
    """Per feature: missing share, medians, PSI and KS against the training reference, with a plain verdict."""
    from scipy.stats import ks_2samp

    ref, ref_name = _reference_frame(bundle)
    feats = [f for f in (bundle.manifest.get("inputs", {}).get("features") or []) if isinstance(f, Mapping)]
    if ref is None or not feats:
        return None
    rows = []
    for f in feats:
        name = f.get("name")
        if name not in cohort.columns or name not in ref.columns:
            continue
        r = pd.to_numeric(ref[name], errors="coerce").to_numpy(dtype=float)
        c = pd.to_numeric(cohort[name].astype(str).str.strip().replace("", np.nan), errors="coerce").to_numpy(dtype=float)
        rf, cf = r[np.isfinite(r)], c[np.isfinite(c)]
        v = psi(rf, cf)
        ks = ks_2samp(rf, cf) if len(rf) and len(cf) else None
        rows.append({
            "feature": name, "label": f.get("label") or name, "unit": f.get("unit") or "",
            "reference_median": float(np.median(rf)) if len(rf) else None,
            "cohort_median": float(np.median(cf)) if len(cf) else None,
            "reference_missing": float(1 - len(rf) / len(r)) if len(r) else None,
            "cohort_missing": float(1 - len(cf) / len(c)) if len(c) else None,
            "psi": v, "ks_statistic": float(ks.statistic) if ks else None, "ks_p": float(ks.pvalue) if ks else None,
            "verdict": _psi_verdict(v),
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return CohortShift("tabular", table, "No model features found in the uploaded file to compare.", ref_name)
    major = table.loc[table["verdict"] == "major shift", "label"].tolist()
    moderate = table.loc[table["verdict"] == "moderate shift", "label"].tolist()
    if major:
        verdict = (f"This cohort differs markedly from the {ref_name.split(' (')[0]} in: {', '.join(major)}. "
                   "Performance on it may differ from the test figures; judge it on the figures below.")
    elif moderate:
        verdict = f"Moderate differences in: {', '.join(moderate)}; the rest is similar."
    else:
        verdict = "The cohort's features are distributed much like the reference data (all PSI < 0.1)."
    return CohortShift("tabular", table, verdict, ref_name)


def text_shift(bundle: ModelBundle, texts: pd.Series) -> CohortShift:
    """Vocabulary coverage and token-length distribution of uploaded texts vs the training texts."""
    from medviz.importer.serving import token_pattern_of
    from medviz.text.model import sequence_length, vocabulary

    vocab = set(vocabulary(bundle.model)[2:])  # after padding and the OOV entry
    seq = sequence_length(bundle.model)
    toks = texts.astype(str).reset_index(drop=True).str.lower().str.findall(token_pattern_of(bundle.model))
    lengths = toks.str.len().to_numpy()
    flat = toks.explode().dropna()
    known = flat.isin(vocab)
    known_per_text = known.groupby(level=0).sum().reindex(toks.index, fill_value=0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        per_text_unknown = pd.Series(np.where(lengths > 0, 1 - known_per_text / np.maximum(lengths, 1), 1.0))
    coverage = float(known.mean()) if len(flat) else 0.0
    train_q = (bundle.manifest.get("training") or {}).get("text_length_tokens") or {}
    qs = (5, 25, 50, 75, 95)
    rows = [{"measure": "token occurrences in the model's vocabulary", "cohort": coverage, "training": None}]
    rows.append({"measure": "texts with more than half their words unknown",
                 "cohort": float((per_text_unknown > 0.5).mean()), "training": None})
    rows.append({"measure": f"texts longer than the {seq} words the model reads", "cohort": float((lengths > seq).mean()),
                 "training": None})
    for q in qs:
        rows.append({"measure": f"length in words, {q}th percentile", "cohort": float(np.percentile(lengths, q)),
                     "training": train_q.get(f"p{q:02d}")})
    table = pd.DataFrame(rows)
    parts = []
    if coverage >= 0.9:
        parts.append(f"{coverage:.0%} of the words are in the model's vocabulary: the wording is familiar to it.")
    elif coverage >= 0.75:
        parts.append(f"Only {coverage:.0%} of the words are in the model's vocabulary: some of the wording is new to it.")
    else:
        parts.append(f"Only {coverage:.0%} of the words are in the model's vocabulary: this text is unlike what it was "
                     "trained on (another register or language?); expect worse performance.")
    med_tr = train_q.get("p50")
    med = float(np.median(lengths)) if len(lengths) else 0.0
    if med_tr:
        ratio = med / med_tr if med_tr else float("inf")
        if ratio > 2 or ratio < 0.5:
            parts.append(f"Texts are much {'longer' if ratio > 1 else 'shorter'} than in training "
                         f"(median {med:g} vs {med_tr:g} words).")
        else:
            parts.append(f"Lengths are similar to training (median {med:g} vs {med_tr:g} words).")
    else:
        parts.append(f"Median length {med:g} words (this bundle does not record the training lengths).")
    return CohortShift("text", table, " ".join(parts), "training texts (vocabulary and recorded length quantiles)")
