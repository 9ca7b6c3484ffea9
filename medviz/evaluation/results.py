"""The evaluation result objects (frozen) and the functions that build them from labels + scores; their JSON form."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.errors import InputError
from medviz.evaluation.shift import CohortShift
from medviz.i18n import N_, Message


# Message: English (JSON, CLI), translated where a page shows it (medviz.i18n.Message).
INTERNAL = Message(N_("internal (held-out test split)"))
EXTERNAL = Message(N_("external (uploaded labelled data)"))


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

    def tables(self) -> dict[str, Any]:
        """Every curve and table the Evaluation page draws, as JSON records: ROC, precision-recall,
        binned and smoothed calibration, decision curve (net benefit, treat-all, treat-none)."""
        return {
            "roc": _records(self.roc),
            "precision_recall": _records(self.pr),
            "calibration_binned": _records(self.calibration_bins),
            "calibration_smoothed": _records(self.calibration_smooth),
            "decision_curve": _records(self.decision),
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
                               threshold_source=Message(N_("0.5 on P(diagnosis): the text model has no deployed threshold")),
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

    def tables(self) -> dict[str, Any]:
        """Every table the Evaluation page draws, as JSON records: per-diagnosis figures, the confusion
        matrix, top-label reliability, and per diagnosis one-vs-rest the ROC curve and the decision
        curve (the page's one-vs-rest view draws these for the diagnosis picked; its bootstrap CIs are
        computed on demand and are not repeated here)."""
        ovr = {}
        for c, label in enumerate(self.labels):
            yb = (self.y == c).astype(int)
            ovr[label] = {"roc": _records(M.roc_table(yb, self.probs[:, c])),
                          "decision_curve": _records(M.decision_curve(yb, self.probs[:, c]))}
        return {
            "per_diagnosis": _records(self.per_class),
            # non-zero cells only: with hundreds of diagnoses the full matrix is mostly zeros
            "confusion_matrix": [{"true": str(t), "predicted": str(p), "n": int(v)}
                                 for (t, p), v in self.confusion_matrix.stack().items() if v],
            "reliability": _records(self.reliability),
            "one_vs_rest": ovr,
        }


Evaluation = BinaryEvaluation | MulticlassEvaluation


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return _jsonable(frame.to_dict(orient="records"))


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
    threshold_source: str = Message(N_("default 0.5")),
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


def summary_json(evaluation: Evaluation, *, shift: CohortShift | None = None, notes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The evaluation as one JSON document (``evaluate --json``): the headline figures of
    ``summary()`` (what the model card prints) plus ``tables`` — every curve and table the Evaluation
    page draws from the same result object (decision curve included)."""
    out = evaluation.summary()
    out["tables"] = evaluation.tables()
    if shift is not None:
        out["cohort_shift"] = {"verdict": shift.verdict, "reference": shift.reference,
                               "table": _jsonable(shift.table.to_dict(orient="records"))}
    if notes:
        out["notes"] = list(notes)
    return _jsonable(out)
