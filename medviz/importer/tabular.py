"""Import a binary risk model on numeric features (trained outside medviz) into a tabular bundle.

The saved bundle model is::

    raw values (N, F), NaN for a blank ─► imputation with the calibration part's medians ─► the user's
    model up to its log-odds ─► PlattScaling (fitted on the calibration part) ─► [risk (N, 1), logit (N, 1)]

which is the tabular family's contract (``medviz.tabular.model``), so validation, SHAP, the Case
page, scoring and evaluation serve it unchanged. Features are matched by name, in the model's input
order: the order of a feature spec (``--feature-spec``, with labels, units and hard limits) or, without
one, the data's columns other than the label, whose inferred spec is returned for confirmation.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from medviz.errors import columns_hint
from medviz.bundle import TASK_TABULAR, save_bundle
from medviz.importer.core import ImportOptions, check_width, logits_tensor, output_head, provenance, split_labelled, training_section
from medviz.importer.errors import LabelError, OutputWidthError
from medviz.importer.keras_file import load_keras_model, read_keras_file
from medviz.schema import INTEGER, FeatureSpec



def feature_names(data: pd.DataFrame, label_column: str, spec: Mapping[str, Any] | None) -> list[str]:
    """The model's input columns, in order: the spec's features, else every column but the label."""
    if spec:
        return [str(f["name"]) for f in spec["features"]]
    return [str(c) for c in data.columns if c != label_column]


def infer_feature_specs(data: pd.DataFrame, label_column: str, spec: Mapping[str, Any] | None = None) -> list[FeatureSpec]:
    """Feature specs completed from the data (type, 1st/99th percentile, median): what the import
    will record. Shown to the user for confirmation when no spec file was given."""
    from medviz.tabular.train import complete_specs, feature_matrix

    names = feature_names(data, label_column, spec)
    given = {str(f["name"]): {k: v for k, v in f.items() if k not in ("name", "transform")} for f in (spec or {}).get("features", [])}
    x = feature_matrix(data, names, "labelled data")
    return complete_specs(x, names, given)


def import_tabular_model(
    model_file: Path | str,
    data: pd.DataFrame,
    out_dir: Path | str,
    opts: ImportOptions,
    *,
    positive: str | None = None,
    feature_spec: Mapping[str, Any] | None = None,
    data_path: Path | None = None,
    band_cuts: tuple[float, float] | None = None,
) -> Path:
    """Import a Keras binary classifier over named numeric features into a bundle at ``out_dir``.

    Raises the typed errors of :mod:`medviz.importer.errors`; non-numeric or missing feature columns
    raise :class:`~medviz.errors.InputError` (``medviz.tabular.train.feature_matrix``)."""
    import keras

    from medviz.tabular.layers import MissingIndicatorImputer, PlattScaling
    from medviz.tabular.summary import binary_summary
    from medviz.tabular.train import (
        REFERENCE_FILE, _csv_bytes, binary_target, complete_specs, derive_band_cuts, feature_matrix, fit_platt,
        risk_bands_section,
    )

    kf = read_keras_file(model_file)
    source = load_keras_model(kf)
    head = output_head(source)
    if opts.label_column not in data.columns:
        raise LabelError(f"label column '{opts.label_column}' not found: {columns_hint(data.columns, [opts.label_column])}")
    names = feature_names(data, opts.label_column, feature_spec)
    if opts.label_column in names:
        raise LabelError(f"the label column '{opts.label_column}' cannot also be a feature")
    if len(source.inputs) != 1 or len(source.inputs[0].shape) != 2:
        raise OutputWidthError(f"{kf.path.name}: expected one input of shape (rows, features), got {[tuple(i.shape) for i in source.inputs]}")
    width_in = source.inputs[0].shape[-1]
    if width_in is not None and int(width_in) != len(names):
        raise OutputWidthError(
            f"{kf.path.name} takes {int(width_in)} features but {len(names)} were named "
            f"({', '.join(names[:10])}{' …' if len(names) > 10 else ''}); give --feature-spec listing the model's inputs in order"
        )
    labels_col = data[opts.label_column].astype("string").str.strip()
    keep = labels_col.notna().to_numpy() & (labels_col != "").fillna(False).to_numpy()
    dropped = int((~keep).sum())
    frame = data[keep].reset_index(drop=True)
    values = labels_col[keep].unique()
    if len(values) < 2:
        raise LabelError(f"label column '{opts.label_column}' has {len(values)} distinct value(s); at least 2 are needed")
    check_width(head, list(values), opts.label_column, kf.path.name)
    try:
        y, labels = binary_target(frame[opts.label_column], positive, opts.label_column)
    except Exception as exc:  # InputError from the trainer's helper, re-typed
        raise LabelError(str(exc).replace("target column", "label column")) from None
    x = feature_matrix(frame, names, "labelled data")
    cal_idx, test_idx = split_labelled(frame, y, opts)
    given = {str(f["name"]): {k: v for k, v in f.items() if k not in ("name", "transform")}
             for f in (feature_spec or {}).get("features", [])}
    specs = complete_specs(x[cal_idx], names, given)  # ranges and medians from the calibration part

    inp = keras.Input(shape=(len(names),), dtype="float32", name="features")
    filled, _ = MissingIndicatorImputer([float(s.median) for s in specs], [False] * len(specs), name="imputer")(inp)
    z = logits_tensor(source, head, filled)
    raw = keras.Model(inp, z)
    z_all = raw.predict(x, batch_size=8192, verbose=0).astype(np.float64)[:, 0]
    slope, intercept = fit_platt(z_all[cal_idx], y[cal_idx])
    logit = PlattScaling(slope, intercept, name="platt")(z)
    risk_out = keras.layers.Activation("sigmoid", name="risk")(logit)
    logit_out = keras.layers.Identity(name="logit")(logit)
    model = keras.Model(inp, [risk_out, logit_out], name="imported_risk_model")
    risk = 1.0 / (1.0 + np.exp(-(slope * z_all + intercept)))

    if band_cuts:
        low, high = band_cuts
        why = "Cut-points given at import."
    else:
        low, high, why = derive_band_cuts(y[cal_idx], risk[cal_idx])
        why = why.replace("out-of-fold (cross-validated) risks on the training data", "calibrated risks of the calibration part")
    metrics = {
        "calibration": binary_summary(y[cal_idx], risk[cal_idx], high),
        "test": binary_summary(y[test_idx], risk[test_idx], high),
    }
    test_predictions = pd.DataFrame(x[test_idx], columns=names)
    reference = pd.DataFrame(x[cal_idx], columns=names)
    for s in specs:
        if s.type == INTEGER:
            test_predictions[s.name] = test_predictions[s.name].astype("Int64")
            reference[s.name] = reference[s.name].astype("Int64")
    test_predictions["y_true"] = y[test_idx]
    test_predictions["risk"] = np.round(risk[test_idx], 6)
    test_predictions["risk_band"] = np.select([risk[test_idx] >= high, risk[test_idx] >= low], ["high", "medium"], "low")

    computed = [
        f"feature ranges and medians (imputation) from {len(cal_idx)} calibration rows",
        f"Platt calibration on {len(cal_idx)} rows",
        "risk bands from the calibration part" if not band_cuts else "risk bands given at import",
        f"test predictions and metrics on {len(test_idx)} rows",
        "SHAP background: reference.csv (calibration rows)",
    ]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = {
        "name": opts.name,
        "version": opts.version,
        "title": opts.title or opts.name,
        "task": TASK_TABULAR,
        "labels": labels,
        "positive_label": labels[1],
        "outcome": {"column": opts.label_column, "positive_label": labels[1], "description": ""},
        "inputs": {
            "kind": "tabular",
            "features": [s.to_dict() for s in specs],
            "missing_values": (
                "A blank value is replaced inside the bundle with the median of that feature in the calibration part "
                "before the imported model sees it (the model itself was not trained with blanks). Rows with more than "
                "half the features blank are not scored. Imputed values are flagged 'imputed' on every result."
            ),
            "hard_limits": "values outside [min, max] (from the feature spec) are refused",
            "training_range": "1st–99th percentile of the calibration rows; outside it a value is flagged 'extrapolation'",
        },
        "capabilities": {"attention": False, "shap": True},
        "outputs": {"risk": f"calibrated probability that {opts.label_column} = {labels[1]} (N, 1)",
                    "logit": "calibrated log-odds (N, 1)"},
        "risk_bands": risk_bands_section(low, high, why),
        "test_prevalence": metrics["test"]["prevalence"],
        "architecture": {
            "summary": f"imported Keras model ({head.activation} output); logits: {head.logits_from}; median imputation and "
                       "Platt scaling added at import",
            "source_layers": [layer.__class__.__name__ for layer in getattr(source, "layers", [])][:40],
            "parameters": int(source.count_params()),
        },
        "calibration": {"method": "Platt scaling (logistic recalibration of the model's log-odds)", "slope": slope,
                        "intercept": intercept, "fitted_on": "calibration part of the import file"},
        "training": training_section(opts, len(cal_idx), len(test_idx)) | {"training_prevalence": float(y[cal_idx].mean())},
        "import": provenance(
            kf, data_path, opts, computed,
            rows={"usable": int(len(frame)), "dropped_blank_label": dropped, "calibration": int(len(cal_idx)),
                  "test": int(len(test_idx))},
            feature_spec="given" if feature_spec else "inferred from the data and confirmed at import",
            output={"activation": head.activation, "width": head.width, "logits": head.logits_from},
        ),
        "metrics": metrics,
        "last_validated": now[:10],
        "intended_use": opts.intended_use or (
            "Decision support for clinicians, as intended by the model's developers (imported model: see the import "
            "section). Not a diagnosis, not for standalone or time-critical use."
        ),
        "out_of_scope_uses": ["Populations unlike the labelled import file", "Time-critical or emergency decisions",
                              "Use without clinician review"],
    }
    return save_bundle(out_dir, model, manifest, test_predictions, extra_files={REFERENCE_FILE: _csv_bytes(reference)})


def specs_table(specs: list[FeatureSpec]) -> str:
    """The inferred features as a plain-text table (CLI confirmation)."""
    rows = [("feature", "type", "unit", "1st pct", "median", "99th pct", "limits")]
    for s in specs:
        rows.append((s.name, s.type, s.unit or "", f"{s.p01:g}", f"{s.median:g}", f"{s.p99:g}", s.limits_text() if (s.min is not None or s.max is not None) else "none"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(r, widths)) for r in rows)

