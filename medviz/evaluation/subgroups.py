"""The same figures per group of any column, small groups flagged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.errors import InputError
from medviz.i18n import N_, Message, join_messages
from medviz.evaluation.results import BinaryEvaluation, Evaluation


# Subgroups: fewer events or non-events than this and the group's AUC/calibration cannot be judged.
MIN_EVENTS = 10
# Fewer patients than this and every CI is wide: shown, flagged "small".
SMALL_N = 100
SMALL_N_MULTICLASS = 30
MAX_GROUPS = 20


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
        flags.append(Message(N_("too few events to judge (< {n})") if ev < MIN_EVENTS
                             else N_("too few non-events to judge (< {n})"), n=MIN_EVENTS))
    elif n < SMALL_N:
        flags.append(Message(N_("small group (n < {n}): wide CIs"), n=SMALL_N))
    return {
        "group": name, "n": n, "events": ev, "prevalence": ev / n if n else None,
        "auc": boot.estimate, "auc_lo": boot.lo, "auc_hi": boot.hi,
        "calibration_intercept": cal.intercept, "calibration_intercept_lo": cal.intercept_lo,
        "calibration_intercept_hi": cal.intercept_hi,
        "calibration_slope": cal.slope, "calibration_slope_lo": cal.slope_lo, "calibration_slope_hi": cal.slope_hi,
        "sensitivity": cm["sensitivity"], "sensitivity_lo": cm["sensitivity_lo"], "sensitivity_hi": cm["sensitivity_hi"],
        "specificity": cm["specificity"], "specificity_lo": cm["specificity_lo"], "specificity_hi": cm["specificity_hi"],
        "flag": join_messages(flags),
    }


def _multiclass_group_row(name: str, y: np.ndarray, probs: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    n = len(y)
    h1, h3 = M.top_k_hits(y, probs, 1), M.top_k_hits(y, probs, 3)
    lo1, hi1 = M.wilson_ci(h1, n)
    auc = M.bootstrap_macro_auc(y, probs, resamples=resamples, seed=seed)
    flag = (Message(N_("small group (n < {n}): too few to judge"), n=SMALL_N_MULTICLASS) if n < SMALL_N_MULTICLASS
            else "")
    return {
        "group": name, "n": n, "diagnoses_present": int(len(np.unique(y))),
        "top1_accuracy": h1 / n, "top1_lo": lo1, "top1_hi": hi1, "top3_accuracy": h3 / n,
        "macro_auc": auc.estimate, "macro_auc_lo": auc.lo, "macro_auc_hi": auc.hi,
        "top_label_ece": M.top_label_ece(y, probs), "flag": flag,
    }
