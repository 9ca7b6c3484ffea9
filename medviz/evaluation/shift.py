"""Cohort shift: an evaluated cohort compared with the training data (PSI/KS per feature; vocabulary cover for text)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.i18n import N_, Message, join_messages


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
    verdict: str  # a medviz.i18n.Message (or MessageList): English here, translated by the page
    reference: str  # what the cohort was compared with (a Message)


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
        return Message(N_("no values"))
    if v < PSI_MODERATE:
        return Message(N_("similar"))
    if v < PSI_MAJOR:
        return Message(N_("moderate shift"))
    return Message(N_("major shift"))


def _reference_frame(bundle: ModelBundle) -> tuple[pd.DataFrame | None, str]:
    if REFERENCE_FILE in (bundle.manifest.get("files") or {}):
        try:
            return pd.read_csv(bundle.file(REFERENCE_FILE)), Message(N_("training data (the bundle's reference.csv)"))
        except (OSError, ValueError) as exc:
            log.warning("could not read %s: %s", REFERENCE_FILE, type(exc).__name__)
    if bundle.test_predictions is not None:
        return bundle.test_predictions, Message(N_("the bundle's held-out test data (no training reference stored in this bundle)"))
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
        return CohortShift("tabular", table, Message(N_("No model features found in the uploaded file to compare.")), ref_name)
    major = table.loc[table["verdict"] == "major shift", "label"].tolist()
    moderate = table.loc[table["verdict"] == "moderate shift", "label"].tolist()
    if major:
        short = (Message(N_("bundle's held-out test data")) if getattr(ref_name, "template", "").startswith("the bundle's")
                 else Message(N_("training data")))
        verdict = Message(N_("This cohort differs markedly from the {reference} in: {features}. "
                             "Performance on it may differ from the test figures; judge it on the figures below."),
                          reference=short, features=", ".join(major))
    elif moderate:
        verdict = Message(N_("Moderate differences in: {features}; the rest is similar."), features=", ".join(moderate))
    else:
        verdict = Message(N_("The cohort's features are distributed much like the reference data (all PSI < 0.1)."))
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
    rows = [{"measure": Message(N_("token occurrences in the model's vocabulary")), "cohort": coverage, "training": None}]
    rows.append({"measure": Message(N_("texts with more than half their words unknown")),
                 "cohort": float((per_text_unknown > 0.5).mean()), "training": None})
    rows.append({"measure": Message(N_("texts longer than the {n} words the model reads"), n=seq), "cohort": float((lengths > seq).mean()),
                 "training": None})
    for q in qs:
        rows.append({"measure": Message(N_("length in words, percentile {q}"), q=q), "cohort": float(np.percentile(lengths, q)),
                     "training": train_q.get(f"p{q:02d}")})
    table = pd.DataFrame(rows)
    parts = []
    if coverage >= 0.9:
        parts.append(Message(N_("{coverage:.0%} of the words are in the model's vocabulary: the wording is familiar to it."),
                             coverage=coverage))
    elif coverage >= 0.75:
        parts.append(Message(N_("Only {coverage:.0%} of the words are in the model's vocabulary: some of the wording is "
                                "new to it."), coverage=coverage))
    else:
        parts.append(Message(N_("Only {coverage:.0%} of the words are in the model's vocabulary: this text is unlike what "
                                "it was trained on (another register or language?); expect worse performance."),
                             coverage=coverage))
    med_tr = train_q.get("p50")
    med = float(np.median(lengths)) if len(lengths) else 0.0
    if med_tr:
        ratio = med / med_tr if med_tr else float("inf")
        if ratio > 2 or ratio < 0.5:
            parts.append(Message(N_("Texts are much longer than in training (median {median:g} vs {training:g} words).")
                                 if ratio > 1 else
                                 N_("Texts are much shorter than in training (median {median:g} vs {training:g} words)."),
                                 median=med, training=med_tr))
        else:
            parts.append(Message(N_("Lengths are similar to training (median {median:g} vs {training:g} words)."),
                                 median=med, training=med_tr))
    else:
        parts.append(Message(N_("Median length {median:g} words (this bundle does not record the training lengths)."),
                             median=med))
    return CohortShift("text", table, join_messages(parts, " "),
                       Message(N_("training texts (vocabulary and recorded length quantiles)")))
