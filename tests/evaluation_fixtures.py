"""A tiny tabular bundle built in tmp_path for the evaluation tests (no training: fixed weights).

risk = sigmoid(0.05·age + 1.0·marker − 3): a one-unit Dense layer with a sigmoid, saved with
medviz.bundle.save_bundle as task "tabular_binary", with test predictions and a reference.csv.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = [
    {"name": "age", "label": "Age", "unit": "years", "type": "integer", "min": 0, "max": 120, "description": "Age"},
    {"name": "marker", "label": "Marker", "unit": "mg/dL", "type": "float", "min": -10, "max": 10,
     "description": "A made-up lab marker"},
]


def tiny_model():
    import keras

    inp = keras.Input(shape=(2,), name="features")
    out = keras.layers.Dense(1, activation="sigmoid", name="risk")(inp)
    model = keras.Model(inp, out)
    model.get_layer("risk").set_weights([np.array([[0.05], [1.0]], dtype="float32"), np.array([-3.0], dtype="float32")])
    return model


def risk_of(frame: pd.DataFrame) -> np.ndarray:
    z = 0.05 * frame["age"].astype(float) + frame["marker"].astype(float) - 3.0
    return 1 / (1 + np.exp(-z.to_numpy()))


def cohort(n: int, seed: int, age_shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"age": rng.integers(20, 80, n) + int(age_shift), "marker": np.round(rng.normal(0, 1.5, n), 2)})
    df["y_true"] = (rng.random(n) < risk_of(df)).astype(int)
    return df


def build_tiny_tabular_bundle(path: Path, *, title: str = "Tiny tabular", reference: bool = True, n_test: int = 300) -> Path:
    from medviz.bundle import TASK_TABULAR, save_bundle

    test = cohort(n_test, seed=3)
    test["risk"] = np.round(risk_of(test), 6)
    ref = cohort(400, seed=4)[["age", "marker"]]
    manifest = {
        "name": path.name, "version": "0.1.0", "title": title, "task": TASK_TABULAR, "labels": ["No", "Yes"],
        "positive_label": "Yes",
        "outcome": {"column": "outcome", "positive_label": "Yes", "description": "a made-up outcome"},
        "inputs": {"kind": "tabular", "features": FEATURES},
        "risk_bands": {"bands": ["low", "medium", "high"], "cut_points": [0.2, 0.4], "high_risk_threshold": 0.4,
                       "rule": "low < 0.2 <= medium < 0.4 <= high", "rationale": "chosen for the tests"},
        "training": {"data_source": "synthetic", "trained_at": "2026-01-01T00:00:00+00:00", "seed": 1,
                     "test_file": "synthetic"},
        "calibration": {"method": "none (fixed weights)", "fitted_on": "nothing"},
        "architecture": {"summary": "logistic", "parameters": 3},
        "intended_use": "tests only",
        "out_of_scope_uses": ["everything real"],
        "last_validated": "2026-01-01",
    }
    extra = {"reference.csv": ref.to_csv(index=False).encode()} if reference else None
    return save_bundle(path, tiny_model(), manifest, test, extra_files=extra)


class TinyTabularScorer:
    """Stands in for the tabular scorer (medviz.scoring) so external validation can be tested on its own:
    same interface (check_columns, score -> risk, warnings, error columns)."""

    def __init__(self, bundle):
        self.bundle = bundle

    def check_columns(self, columns) -> None:
        from medviz.errors import SchemaError

        missing = [f["name"] for f in FEATURES if f["name"] not in list(columns)]
        if missing:
            raise SchemaError(f"missing column(s): {', '.join(missing)}")

    def score(self, chunk: pd.DataFrame) -> pd.DataFrame:
        x = chunk[["age", "marker"]].apply(pd.to_numeric, errors="coerce")
        ok = x.notna().all(axis=1).to_numpy()
        risk = np.full(len(chunk), np.nan)
        if ok.any():
            risk[ok] = self.bundle.model.predict(x[ok].to_numpy("float32"), verbose=0)[:, 0]
        return pd.DataFrame({"risk": risk, "warnings": "", "error": np.where(ok, "", "age/marker: not a number")},
                            index=chunk.index)
