"""Internal validation: the bundle's own held-out test predictions, and its deployed threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.bundle import TEST_PREDICTIONS_FILE, ModelBundle
from medviz.errors import SchemaError, UnsupportedBundleError
from medviz.evaluation.results import INTERNAL, Cohort, Evaluation
from medviz.families import family_for
from medviz.i18n import N_, Message


def deployed_threshold(bundle: ModelBundle) -> tuple[float, str]:
    """The bundle's high-risk cut-off and why (tabular); 0.5 if it records none."""
    bands = bundle.manifest.get("risk_bands") or {}
    thr = bands.get("high_risk_threshold")
    if thr is None and bands.get("cut_points"):
        thr = bands["cut_points"][-1]
    if thr is None:
        return 0.5, Message(N_("0.5: the bundle records no deployed threshold"))
    why = bands.get("rationale")  # the bundle's own words (manifest text): shown as written
    if not why:
        return float(thr), Message(N_("deployed high-risk threshold {threshold:g}"), threshold=float(thr))
    return float(thr), Message(N_("deployed high-risk threshold {threshold:g}: {why}"), threshold=float(thr), why=why)


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
    desc = (Message(N_("held-out test file {file}"), file=test_info["test_file"]) if test_info.get("test_file")
            else Message(N_("held-out test file")))
    frame = tp
    excluded: dict[str, int] = {}
    if deduplicated and "near_duplicate" in tp.columns:
        dup = tp["near_duplicate"].astype(str).str.lower().isin(("true", "1"))
        frame = tp[~dup]
        excluded[Message(N_("near-duplicates of training texts"))] = int(dup.sum())
        desc = Message(N_("{cohort} (near-duplicates of training texts removed)"), cohort=desc)
    if bundle.is_tabular and "risk" not in frame.columns:
        raise SchemaError(f"{where}: no 'risk' column")
    cohort = Cohort(INTERNAL, len(frame), None, None, desc, excluded)
    try:  # the family reads its own output columns (text: prob_<label>; tabular: risk)
        return family_for(bundle).evaluate(bundle, frame["y_true"], frame, cohort=cohort, resamples=resamples, seed=seed)
    except SchemaError as exc:
        raise SchemaError(f"{where}: {exc}") from None
