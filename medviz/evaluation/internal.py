"""Internal validation: the bundle's own held-out test predictions, and its deployed threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.bundle import TEST_PREDICTIONS_FILE, ModelBundle
from medviz.errors import SchemaError, UnsupportedBundleError
from medviz.evaluation.results import INTERNAL, Cohort, Evaluation
from medviz.families import family_for


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
    frame = tp
    excluded: dict[str, int] = {}
    if deduplicated and "near_duplicate" in tp.columns:
        dup = tp["near_duplicate"].astype(str).str.lower().isin(("true", "1"))
        frame = tp[~dup]
        excluded["near-duplicates of training texts"] = int(dup.sum())
        desc += " (near-duplicates of training texts removed)"
    if bundle.is_tabular and "risk" not in frame.columns:
        raise SchemaError(f"{where}: no 'risk' column")
    cohort = Cohort(INTERNAL, len(frame), None, None, desc, excluded)
    try:  # the family reads its own output columns (text: prob_<label>; tabular: risk)
        return family_for(bundle).evaluate(bundle, frame["y_true"], frame, cohort=cohort, resamples=resamples, seed=seed)
    except SchemaError as exc:
        raise SchemaError(f"{where}: {exc}") from None
