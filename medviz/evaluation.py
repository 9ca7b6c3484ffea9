"""Evaluate a model on a cohort: labels + scores in, one frozen result with every table out.

* :func:`evaluate_binary` — a risk (tabular bundles, or one diagnosis one-vs-rest): ROC/PR with
  bootstrap CIs, calibration (binned, smoothed with CI, intercept/slope, Brier, ECE), decision curve,
  and the raw arrays so a threshold can be moved without recomputing anything else.
* :func:`evaluate_multiclass` — a text bundle's differential: per-diagnosis table, macro AUC with CI,
  top-1/top-3 accuracy with CIs, confusion matrix, top-label reliability.
* :func:`evaluate_bundle_test` — the bundle's own held-out predictions (internal validation).
* :func:`evaluate_external` — a labelled table from the user, validated and scored like a batch
  (:mod:`medviz.scoring`), then evaluated; with :func:`cohort_shift` against the training data.
* :func:`subgroup_table` — the same figures per group of any column, small groups flagged.
* :func:`diagnosis_context` / :func:`risk_context` — small look-ups for the Case page.

Everything here is pure (no Streamlit); the UI caches the bundle-test evaluation per bundle file hash.
"""
from __future__ import annotations

import io
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.bundle import TEST_PREDICTIONS_FILE, ModelBundle
from medviz.errors import InputError, SchemaError, UnsupportedBundleError, columns_hint, line_numbers

log = logging.getLogger(__name__)

REFERENCE_FILE = "reference.csv"  # training feature values of a tabular bundle (written by the tabular trainer)

INTERNAL = "internal (held-out test split)"
EXTERNAL = "external (uploaded labelled data)"

# Subgroups: fewer events or non-events than this and the group's AUC/calibration cannot be judged.
MIN_EVENTS = 10
# Fewer patients than this and every CI is wide: shown, flagged "small".
SMALL_N = 100
SMALL_N_MULTICLASS = 30
MAX_GROUPS = 20

TRUE_WORDS = {"1", "1.0", "true", "t", "yes", "y", "positive", "pos"}
FALSE_WORDS = {"0", "0.0", "false", "f", "no", "n", "negative", "neg"}


@dataclass(frozen=True)
class Cohort:
    """E1: who the figures are about."""

    source: str  # INTERNAL or EXTERNAL
    n: int
    events: int | None  # binary: positives
    prevalence: float | None
    description: str = ""
    excluded: Mapping[str, int] = field(default_factory=dict)  # reason -> rows left out


@dataclass(frozen=True)
class BinaryEvaluation:
    cohort: Cohort
    positive_label: str
    y: np.ndarray = field(repr=False)
    risk: np.ndarray = field(repr=False)
    auc: M.BootstrapCI
    average_precision: M.BootstrapCI
    brier: M.BootstrapCI
    ece: float
    recalibration: M.Recalibration
    roc: pd.DataFrame = field(repr=False)
    pr: pd.DataFrame = field(repr=False)
    calibration_bins: pd.DataFrame = field(repr=False)
    calibration_smooth: pd.DataFrame = field(repr=False)
    decision: pd.DataFrame = field(repr=False)
    threshold: float
    threshold_source: str

    def confusion(self, threshold: float | None = None) -> dict[str, Any]:
        return M.confusion_at(self.y, self.risk, self.threshold if threshold is None else threshold)

    def summary(self) -> dict[str, Any]:
        """Headline figures as plain JSON-ready values (CLI, model card)."""
        return {
            "kind": "binary",
            "cohort": _jsonable(asdict(self.cohort)),
            "positive_label": self.positive_label,
            "auc": self.auc.as_dict(),
            "average_precision": self.average_precision.as_dict(),
            "brier": self.brier.as_dict(),
            "ece": self.ece,
            "calibration": _jsonable(asdict(self.recalibration)),
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "at_threshold": self.confusion(),
            "bootstrap": {"resamples": self.auc.resamples, "seed": self.auc.seed, "method": self.auc.method},
        }


@dataclass(frozen=True)
class MulticlassEvaluation:
    cohort: Cohort
    labels: tuple[str, ...]
    y: np.ndarray = field(repr=False)  # class indices
    probs: np.ndarray = field(repr=False)
    macro_auc: M.BootstrapCI
    top1: float | None
    top1_ci: tuple[float | None, float | None]
    top3: float | None
    top3_ci: tuple[float | None, float | None]
    ece: float | None
    per_class: pd.DataFrame = field(repr=False)
    confusion_matrix: pd.DataFrame = field(repr=False)
    reliability: pd.DataFrame = field(repr=False)

    def one_vs_rest(self, label: str, *, resamples: int = M.DEFAULT_RESAMPLES, seed: int = M.DEFAULT_SEED) -> BinaryEvaluation:
        """The binary views (ROC, calibration, decision curve, 2x2) for one diagnosis against all others."""
        if label not in self.labels:
            raise InputError(f"diagnosis '{label}' is not one the model knows")
        c = self.labels.index(label)
        yb = (self.y == c).astype(int)
        cohort = Cohort(self.cohort.source, self.cohort.n, int(yb.sum()), float(yb.mean()) if len(yb) else None,
                        self.cohort.description, self.cohort.excluded)
        return evaluate_binary(yb, self.probs[:, c], positive_label=label, cohort=cohort, threshold=0.5,
                               threshold_source="0.5 on P(diagnosis) (the text model has no deployed threshold)",
                               resamples=resamples, seed=seed)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": "multiclass",
            "cohort": _jsonable(asdict(self.cohort)),
            "top1_accuracy": {"estimate": self.top1, "lo": self.top1_ci[0], "hi": self.top1_ci[1], "method": "Wilson"},
            "top3_accuracy": {"estimate": self.top3, "lo": self.top3_ci[0], "hi": self.top3_ci[1], "method": "Wilson"},
            "macro_auc": self.macro_auc.as_dict(),
            "top_label_ece": self.ece,
            "per_diagnosis": _jsonable(self.per_class.to_dict(orient="records")),
            "bootstrap": {"resamples": self.macro_auc.resamples, "seed": self.macro_auc.seed},
        }


Evaluation = BinaryEvaluation | MulticlassEvaluation


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return None if math.isnan(v) or math.isinf(v) else v
    return obj


# ------------------------------------------------------------------------------------------------
# Core evaluations over arrays
# ------------------------------------------------------------------------------------------------


def evaluate_binary(
    y_true,
    risk,
    *,
    positive_label: str = "positive",
    cohort: Cohort | None = None,
    threshold: float = 0.5,
    threshold_source: str = "default 0.5",
    resamples: int = M.DEFAULT_RESAMPLES,
    seed: int = M.DEFAULT_SEED,
) -> BinaryEvaluation:
    y, p = M._as_binary(y_true, risk)
    if not len(y):
        raise InputError("no labelled rows to evaluate")
    if cohort is None:
        cohort = Cohort(INTERNAL, len(y), int(y.sum()), float(y.mean()))
    boot = M.bootstrap_binary(y, p, resamples=resamples, seed=seed)
    return BinaryEvaluation(
        cohort=cohort,
        positive_label=str(positive_label),
        y=y,
        risk=p,
        auc=boot["auc"],
        average_precision=boot["average_precision"],
        brier=boot["brier"],
        ece=M.binary_ece(y, p),
        recalibration=M.calibration_intercept_slope(y, p),
        roc=M.roc_table(y, p),
        pr=M.pr_table(y, p),
        calibration_bins=M.binned_calibration(y, p),
        calibration_smooth=M.smoothed_calibration(y, p),
        decision=M.decision_curve(y, p),
        threshold=float(threshold),
        threshold_source=threshold_source,
    )


def evaluate_multiclass(
    y_true,
    probs: np.ndarray,
    labels: list[str] | tuple[str, ...],
    *,
    cohort: Cohort | None = None,
    resamples: int = M.DEFAULT_RESAMPLES,
    seed: int = M.DEFAULT_SEED,
) -> MulticlassEvaluation:
    y = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape != (len(y), len(labels)):
        raise ValueError(f"probs must be (n, {len(labels)}), got {probs.shape}")
    if not len(y):
        raise InputError("no labelled rows to evaluate")
    if cohort is None:
        cohort = Cohort(INTERNAL, len(y), None, None)
    n = len(y)
    h1, h3 = M.top_k_hits(y, probs, 1), M.top_k_hits(y, probs, 3)
    return MulticlassEvaluation(
        cohort=cohort,
        labels=tuple(labels),
        y=y,
        probs=probs,
        macro_auc=M.bootstrap_macro_auc(y, probs, resamples=resamples, seed=seed),
        top1=h1 / n,
        top1_ci=M.wilson_ci(h1, n),
        top3=h3 / n,
        top3_ci=M.wilson_ci(h3, n),
        ece=M.top_label_ece(y, probs),
        per_class=M.per_class_table(y, probs, list(labels)),
        confusion_matrix=M.confusion_table(y, probs, list(labels)),
        reliability=M.top_label_reliability(y, probs),
    )


# ------------------------------------------------------------------------------------------------
# Bundles
# ------------------------------------------------------------------------------------------------


def positive_label(bundle: ModelBundle) -> str:
    return str(bundle.manifest.get("positive_label") or bundle.labels[-1])


def deployed_threshold(bundle: ModelBundle) -> tuple[float, str]:
    """The bundle's high-risk cut-off and why (tabular); 0.5 if it records none."""
    bands = bundle.manifest.get("risk_bands") or {}
    thr = bands.get("high_risk_threshold")
    if thr is None and bands.get("cut_points"):
        thr = bands["cut_points"][-1]
    if thr is None:
        return 0.5, "0.5 (the bundle records no deployed threshold)"
    why = bands.get("rationale") or "deployed high-risk threshold"
    return float(thr), f"deployed high-risk threshold {float(thr):g}: {why}"


def _prob_columns(bundle: ModelBundle, frame: pd.DataFrame, where: str) -> np.ndarray:
    cols = [f"prob_{lab}" for lab in bundle.labels]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise SchemaError(f"{where}: missing probability column(s) {', '.join(missing[:5])}")
    return frame[cols].to_numpy(dtype=float)


def evaluate_bundle_test(
    bundle: ModelBundle, *, resamples: int = M.DEFAULT_RESAMPLES, seed: int = M.DEFAULT_SEED, deduplicated: bool = False
) -> Evaluation:
    """Internal validation on the bundle's stored held-out predictions (never apparent performance)."""
    tp = bundle.test_predictions
    where = f"{bundle.path / TEST_PREDICTIONS_FILE}"
    if tp is None or tp.empty:
        raise UnsupportedBundleError(f"bundle '{bundle.name}' has no held-out test predictions ({TEST_PREDICTIONS_FILE})")
    if "y_true" not in tp.columns:
        raise SchemaError(f"{where}: no 'y_true' column")
    test_info = bundle.manifest.get("training", {})
    desc = f"held-out test file {test_info.get('test_file') or ''}".strip()
    if bundle.is_text:
        frame = tp
        excluded: dict[str, int] = {}
        if deduplicated and "near_duplicate" in tp.columns:
            dup = tp["near_duplicate"].astype(str).str.lower().isin(("true", "1"))
            frame = tp[~dup]
            excluded["near-duplicates of training texts"] = int(dup.sum())
            desc += " (near-duplicates of training texts removed)"
        y = labels_to_index(frame["y_true"], bundle.labels, where)
        probs = _prob_columns(bundle, frame, where)
        cohort = Cohort(INTERNAL, len(y), None, None, desc, excluded)
        return evaluate_multiclass(y, probs, bundle.labels, cohort=cohort, resamples=resamples, seed=seed)
    if "risk" not in tp.columns:
        raise SchemaError(f"{where}: no 'risk' column")
    y = binary_labels(tp["y_true"], bundle, where)
    risk = pd.to_numeric(tp["risk"], errors="coerce").to_numpy(dtype=float)
    thr, why = deployed_threshold(bundle)
    cohort = Cohort(INTERNAL, len(y), int(y.sum()), float(y.mean()), desc)
    return evaluate_binary(y, risk, positive_label=positive_label(bundle), cohort=cohort, threshold=thr,
                           threshold_source=why, resamples=resamples, seed=seed)


# ------------------------------------------------------------------------------------------------
# Labels from user files
# ------------------------------------------------------------------------------------------------


def binary_labels(values: pd.Series, bundle: ModelBundle, where: str = "label column") -> np.ndarray:
    """0/1, true/false, yes/no, or the outcome's own values (manifest labels; positive = positive_label)."""
    y, bad = _binary_labels(values, bundle)
    if bad:
        raise SchemaError(f"{where}: {_bad_lines(values, bad)} hold a value that is not an outcome; " + _label_hint(bundle))
    return y


def _bad_lines(values: pd.Series, bad: list[str]) -> str:
    """Where the unusable labels are (line numbers, header = line 1) — never the values: a wrongly chosen
    column may hold names or notes."""
    return line_numbers(np.flatnonzero(values.astype(str).isin(bad).to_numpy()))


def _label_hint(bundle: ModelBundle) -> str:
    pos = positive_label(bundle)
    neg = [lab for lab in bundle.labels if lab != pos]
    return f"expected 0/1, true/false, or {neg[0] if neg else 'negative'}/{pos} (positive = {pos})"


def _binary_labels(values: pd.Series, bundle: ModelBundle) -> tuple[np.ndarray, list[str]]:
    pos = positive_label(bundle).strip().lower()
    negs = {lab.strip().lower() for lab in bundle.labels if lab.strip().lower() != pos}
    s = values.astype(str).str.strip().str.lower()
    is_pos = s.isin(TRUE_WORDS | {pos})
    is_neg = s.isin(FALSE_WORDS | negs)
    if pos in FALSE_WORDS or (negs & TRUE_WORDS):
        # The outcome's own values win over generic words (a positive class literally called "no"...).
        is_pos = s.eq(pos)
        is_neg = s.isin(negs)
    bad = sorted(set(values[~(is_pos | is_neg)].astype(str)))
    return is_pos.to_numpy().astype(int), bad


def labels_to_index(values: pd.Series, labels: list[str], where: str = "label column") -> np.ndarray:
    """Diagnosis names (case- and space-insensitive) -> class indices; unknown names raise."""
    idx, unknown = _label_index(values, labels)
    if unknown:
        raise SchemaError(
            f"{where}: {line_numbers(np.flatnonzero(idx < 0))} hold a label the model does not know"
            f"; expected one of: {', '.join(labels)}"
        )
    return idx


def _label_index(values: pd.Series, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    norm = {" ".join(lab.lower().split()): i for i, lab in enumerate(labels)}
    keys = values.astype(str).map(lambda v: " ".join(v.lower().split()))
    idx = keys.map(norm)
    unknown = sorted(set(values[idx.isna()].astype(str)))
    return idx.fillna(-1).to_numpy(dtype=int), unknown


# ------------------------------------------------------------------------------------------------
# External validation
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalValidation:
    """A user's labelled file, scored and evaluated. Holds patient data: keep it in session state only."""

    evaluation: Evaluation
    scored: pd.DataFrame = field(repr=False)  # the rows that were evaluated: inputs + model outputs
    label_column: str
    text_column: str | None
    notes: tuple[str, ...]
    shift: "CohortShift | None"


def evaluate_external(
    bundle: ModelBundle,
    table: pd.DataFrame,
    label_column: str,
    *,
    text_column: str | None = None,
    scorer=None,
    resamples: int = M.DEFAULT_RESAMPLES,
    seed: int = M.DEFAULT_SEED,
    chunksize: int = 20_000,
) -> ExternalValidation:
    """Validate and score ``table`` like a batch, then evaluate it against ``label_column``.

    Rows whose label is blank, whose label the model does not know (text), or that the scorer
    refuses (its ``error`` column) are left out and counted in ``cohort.excluded``.
    """
    from medviz.scoring import make_scorer, score_frame

    if label_column not in table.columns:
        raise SchemaError(f"label column '{label_column}' not found: {columns_hint(table.columns, [label_column])}")
    if not len(table):
        raise InputError("the file has a header but no rows")
    scorer = scorer or make_scorer(bundle, text_column=text_column)
    scorer.check_columns(table.columns)
    excluded: dict[str, int] = {}
    notes: list[str] = []
    raw = table[label_column].astype(str).str.strip()
    blank = raw.eq("").to_numpy()
    if blank.any():
        excluded["blank label"] = int(blank.sum())
    keep = ~blank
    if bundle.is_text:
        idx, _unknown = _label_index(raw, bundle.labels)
        unk = (idx < 0) & keep
        if unk.any():
            excluded["label not among the model's diagnoses"] = int(unk.sum())
            notes.append(
                f"{int(unk.sum())} row(s) carry labels the model cannot predict ({line_numbers(np.flatnonzero(unk))}"
                "); they are left out of every figure. A diagnosis outside the "
                "model's list is always a miss: count them as such when judging the model."
            )
        keep &= ~unk
    else:
        yb, bad = _binary_labels(raw[keep], bundle)
        if bad:
            raise SchemaError(
                f"label column '{label_column}': {_bad_lines(raw.reset_index(drop=True), bad)} "
                "hold a value that is not an outcome; " + _label_hint(bundle)
            )
    if not keep.any():
        raise InputError(f"label column '{label_column}': no row has a usable label")
    sub = table[keep]
    parts = [score_frame(scorer, sub.iloc[i : i + chunksize]) for i in range(0, len(sub), chunksize)]
    scored = pd.concat(parts) if parts else sub
    failed = scored["error"].astype(str).ne("").to_numpy()
    if failed.any():
        excluded["could not be scored (see the error column of a batch score)"] = int(failed.sum())
    scored = scored[~failed]
    if scored.empty:
        raise InputError("no row could be scored; score the file on the Batch page to see why")
    raw_ok = scored[label_column].astype(str).str.strip()
    desc = f"uploaded labelled data, label column '{label_column}'"
    if bundle.is_text:
        y = labels_to_index(raw_ok, bundle.labels)
        probs = _prob_columns(bundle, scored, "scored data")
        cohort = Cohort(EXTERNAL, len(y), None, None, desc, excluded)
        ev: Evaluation = evaluate_multiclass(y, probs, bundle.labels, cohort=cohort, resamples=resamples, seed=seed)
        tcol = getattr(scorer, "text_column", text_column)
        shift = text_shift(bundle, scored[tcol].astype(str)) if tcol in scored.columns else None
    else:
        y = binary_labels(raw_ok, bundle)
        risk = pd.to_numeric(scored["risk"], errors="coerce").to_numpy(dtype=float)
        thr, why = deployed_threshold(bundle)
        cohort = Cohort(EXTERNAL, len(y), int(y.sum()), float(y.mean()), desc, excluded)
        ev = evaluate_binary(y, risk, positive_label=positive_label(bundle), cohort=cohort, threshold=thr,
                             threshold_source=why, resamples=resamples, seed=seed)
        tcol = None
        shift = tabular_shift(bundle, scored)
    return ExternalValidation(ev, scored.reset_index(drop=True), label_column, tcol, tuple(notes), shift)


# ------------------------------------------------------------------------------------------------
# Subgroups
# ------------------------------------------------------------------------------------------------


def group_values(values: pd.Series, max_groups: int = MAX_GROUPS) -> pd.Series:
    """Group labels for a column: categories as they are; a numeric column with many values in quartile bands."""
    s = values.astype(str).str.strip().replace({"<NA>": "", "nan": "", "NaN": "", "None": ""})
    num = pd.to_numeric(s.where(s != ""), errors="coerce")
    numeric = num.notna().sum() > 0 and num.notna().sum() == (s != "").sum()
    if numeric and num.nunique() > 8:
        qs = np.unique(np.nanpercentile(num, [0, 25, 50, 75, 100]))
        names = [f"{a:g} – {b:g}" for a, b in zip(qs[:-1], qs[1:])]
        cut = pd.cut(num, qs, include_lowest=True, labels=names).astype(object)
        cats = names + (["(missing)"] if num.isna().any() else [])
        return pd.Series(pd.Categorical(cut.where(num.notna(), "(missing)"), categories=cats, ordered=True),
                         index=values.index)
    out = s.where(s != "", "(missing)")
    top = out.value_counts()
    if len(top) > max_groups:
        keep = set(top.index[: max_groups - 1])
        out = out.where(out.isin(keep), "(other)")
    return out


def subgroup_table(
    evaluation: Evaluation,
    groups: pd.Series,
    *,
    threshold: float | None = None,
    resamples: int = M.DEFAULT_RESAMPLES,
    seed: int = M.DEFAULT_SEED,
) -> pd.DataFrame:
    """Per group: n, events, AUC (bootstrap CI), calibration intercept/slope (CI), sens/spec (Wilson CI).

    Groups too small to judge are kept and flagged in ``flag`` (never hidden).
    """
    g = group_values(pd.Series(np.asarray(groups)))
    if len(g) != len(evaluation.y):
        raise InputError(f"subgroup column has {len(g)} values for {len(evaluation.y)} evaluated rows")
    rows = []
    # numeric bands in their natural order; categories largest first
    order = [c for c in g.cat.categories if (g == c).any()] if isinstance(g.dtype, pd.CategoricalDtype) else g.value_counts().index
    for name in order:
        sel = (g == name).to_numpy()
        if isinstance(evaluation, BinaryEvaluation):
            rows.append(_binary_group_row(str(name), evaluation.y[sel], evaluation.risk[sel],
                                          evaluation.threshold if threshold is None else threshold, resamples, seed))
        else:
            rows.append(_multiclass_group_row(str(name), evaluation.y[sel], evaluation.probs[sel], resamples, seed))
    return pd.DataFrame(rows)


def _binary_group_row(name: str, y: np.ndarray, p: np.ndarray, thr: float, resamples: int, seed: int) -> dict[str, Any]:
    n, ev = len(y), int(y.sum())
    boot = M.bootstrap_binary(y, p, resamples=resamples, seed=seed)["auc"]
    cal = M.calibration_intercept_slope(y, p)
    cm = M.confusion_at(y, p, thr)
    flags = []
    if min(ev, n - ev) < MIN_EVENTS:
        flags.append(f"too few {'events' if ev < MIN_EVENTS else 'non-events'} to judge (< {MIN_EVENTS})")
    elif n < SMALL_N:
        flags.append(f"small group (n < {SMALL_N}): wide CIs")
    return {
        "group": name, "n": n, "events": ev, "prevalence": ev / n if n else None,
        "auc": boot.estimate, "auc_lo": boot.lo, "auc_hi": boot.hi,
        "calibration_intercept": cal.intercept, "calibration_intercept_lo": cal.intercept_lo,
        "calibration_intercept_hi": cal.intercept_hi,
        "calibration_slope": cal.slope, "calibration_slope_lo": cal.slope_lo, "calibration_slope_hi": cal.slope_hi,
        "sensitivity": cm["sensitivity"], "sensitivity_lo": cm["sensitivity_lo"], "sensitivity_hi": cm["sensitivity_hi"],
        "specificity": cm["specificity"], "specificity_lo": cm["specificity_lo"], "specificity_hi": cm["specificity_hi"],
        "flag": "; ".join(flags),
    }


def _multiclass_group_row(name: str, y: np.ndarray, probs: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    n = len(y)
    h1, h3 = M.top_k_hits(y, probs, 1), M.top_k_hits(y, probs, 3)
    lo1, hi1 = M.wilson_ci(h1, n)
    auc = M.bootstrap_macro_auc(y, probs, resamples=resamples, seed=seed)
    flag = f"small group (n < {SMALL_N_MULTICLASS}): too few to judge" if n < SMALL_N_MULTICLASS else ""
    return {
        "group": name, "n": n, "diagnoses_present": int(len(np.unique(y))),
        "top1_accuracy": h1 / n, "top1_lo": lo1, "top1_hi": hi1, "top3_accuracy": h3 / n,
        "macro_auc": auc.estimate, "macro_auc_lo": auc.lo, "macro_auc_hi": auc.hi,
        "top_label_ece": M.top_label_ece(y, probs), "flag": flag,
    }


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
    from medviz.text.layers import TOKEN_PATTERN
    from medviz.text.model import sequence_length, vocabulary

    vocab = set(vocabulary(bundle.model)) - {"", "[UNK]"}
    seq = sequence_length(bundle.model)
    toks = texts.astype(str).reset_index(drop=True).str.lower().str.findall(TOKEN_PATTERN)
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


# ------------------------------------------------------------------------------------------------
# Context for one prediction (Case page)
# ------------------------------------------------------------------------------------------------


def diagnosis_context(bundle: ModelBundle, label: str) -> dict[str, Any]:
    """How the model did on test for this diagnosis as its top-1 call: sensitivity and PPV (Wilson CIs)."""
    tp = bundle.test_predictions
    if tp is None or not bundle.is_text:
        raise UnsupportedBundleError(f"bundle '{bundle.name}' has no multiclass test predictions")
    if label not in bundle.labels:
        raise InputError(f"diagnosis '{label}' is not one the model knows")
    y = labels_to_index(tp["y_true"], bundle.labels)
    probs = _prob_columns(bundle, tp, TEST_PREDICTIONS_FILE)
    c = bundle.labels.index(label)
    row = M.per_class_table(y, probs, bundle.labels).iloc[c].to_dict()
    row["n_test"] = int(len(y))
    row["text"] = _diagnosis_sentence(row)
    return row


def _pct(v: float | None) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def _diagnosis_sentence(r: Mapping[str, Any]) -> str:
    if not r["support"]:
        return f"'{r['label']}' did not occur in the test set: its accuracy is untested."
    return (
        f"On {r['n_test']} test cases, the model named '{r['label']}' first for {_pct(r['sensitivity'])} of the "
        f"{r['support']} true cases (sensitivity, 95% CI {_pct(r['sensitivity_lo'])}–{_pct(r['sensitivity_hi'])}); "
        f"when it named it first, it was right {_pct(r['ppv'])} of the time "
        f"(PPV, {r['predicted']} calls, CI {_pct(r['ppv_lo'])}–{_pct(r['ppv_hi'])})."
    )


def risk_context(bundle: ModelBundle, risk: float, evaluation: BinaryEvaluation | None = None) -> dict[str, Any]:
    """Where a risk sits on the test calibration curve, and among test patients.

    Returns the observed event rate the smoothed curve gives at this risk (with CI), the observed rate
    in the test risk group containing it, and the share of test patients with a lower risk.
    """
    if not bundle.is_tabular:
        raise UnsupportedBundleError(f"bundle '{bundle.name}' does not predict a risk")
    ev = evaluation if evaluation is not None else evaluate_bundle_test(bundle, resamples=0)
    risk = float(risk)
    out: dict[str, Any] = {"risk": risk, "percentile": float((ev.risk < risk).mean()), "n_test": ev.cohort.n}
    sm = ev.calibration_smooth
    if len(sm) and sm["predicted"].min() <= risk <= sm["predicted"].max():
        out["observed"] = float(np.interp(risk, sm["predicted"], sm["observed"]))
        out["observed_lo"] = float(np.interp(risk, sm["predicted"], sm["observed_lo"]))
        out["observed_hi"] = float(np.interp(risk, sm["predicted"], sm["observed_hi"]))
        out["in_range"] = True
    else:
        out["in_range"] = False
    bins = ev.calibration_bins
    if len(bins):
        b = bins.iloc[int(np.argmin(np.abs(bins["mean_predicted"].to_numpy() - risk)))]
        out["group"] = {k: (float(v) if isinstance(v, (float, np.floating)) else int(v)) for k, v in b.items()}
    if out["in_range"]:
        out["text"] = (
            f"Among test patients given a risk near {risk:.0%}, about {out['observed']:.0%} had the outcome "
            f"(95% CI {out['observed_lo']:.0%}–{out['observed_hi']:.0%}); {out['percentile']:.0%} of test patients "
            "had a lower risk."
        )
    else:
        out["text"] = (
            f"A risk of {risk:.0%} lies outside the range seen in the test set, where calibration was not checked."
        )
    return out


def summary_json(evaluation: Evaluation, *, shift: CohortShift | None = None, notes: tuple[str, ...] = ()) -> dict[str, Any]:
    out = evaluation.summary()
    if shift is not None:
        out["cohort_shift"] = {"verdict": shift.verdict, "reference": shift.reference,
                               "table": _jsonable(shift.table.to_dict(orient="records"))}
    if notes:
        out["notes"] = list(notes)
    return _jsonable(out)


def read_labelled_upload(data: bytes | io.BytesIO | str) -> pd.DataFrame:
    """Read an uploaded labelled CSV with :mod:`medviz.io`'s checks (string-typed)."""
    from medviz.io import read_table

    return read_table(data)
