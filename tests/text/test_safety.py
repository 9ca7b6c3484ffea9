"""Conformal sets, out-of-scope scores, and the analyse/score entry points on a tiny clinical bundle."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from medviz.errors import BundleError, InputError
from medviz.text import conformal, ood

# ---------------------------------------------------------------- conformal (pure)

def test_conformal_coverage_on_exchangeable_data():
    rng = np.random.default_rng(0)
    n, c = 4000, 5
    logits = rng.normal(size=(n, c)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(c, p=p) for p in probs])  # labels drawn from the probabilities: calibrated
    cal = conformal.calibrate(probs[:1000], y[:1000], 0.9)
    res = conformal.evaluate(probs[1000:], y[1000:], cal)
    assert 0.88 <= res["coverage"] <= 0.93
    assert 1.0 <= res["mean_set_size"] < c


def test_conformal_sets_grow_with_coverage_and_can_be_empty():
    probs = np.array([[0.2, 0.3, 0.5], [0.34, 0.33, 0.33]])
    y = np.array([2, 0])
    small = conformal.prediction_sets(probs, conformal.calibrate(probs, y, 0.5))
    large = conformal.prediction_sets(probs, conformal.calibrate(probs, y, 0.99))
    assert (large.sum(1) >= small.sum(1)).all()
    cal = conformal.ConformalCalibration(coverage=0.9, threshold=0.5, n_calibration=10)  # needs p >= 0.5
    member = conformal.prediction_sets(np.array([[0.4, 0.3, 0.3], [0.7, 0.2, 0.1]]), cal)
    assert member.sum(1).tolist() == [0, 1]


def test_conformal_rejects_bad_coverage():
    with pytest.raises(InputError, match="coverage"):
        conformal.calibrate(np.ones((2, 2)) / 2, np.array([0, 1]), 1.5)


def test_conformal_manifest_round_trip():
    cal = conformal.calibrate(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1]), 0.9)
    assert conformal.ConformalCalibration.from_manifest(cal.to_manifest()) == cal
    with pytest.raises(InputError, match="conformal"):
        conformal.ConformalCalibration.from_manifest({"coverage": 0.9})


# ---------------------------------------------------------------- out-of-scope (pure)

def test_energy_is_higher_for_flat_low_logits():
    confident = np.array([[8.0, 0.0, 0.0]])
    flat = np.array([[0.1, 0.0, 0.1]])
    assert ood.energy_score(flat)[0] > ood.energy_score(confident)[0]
    assert ood.msp_score(flat)[0] > ood.msp_score(confident)[0]


def test_threshold_flags_the_stated_share_of_in_scope():
    rng = np.random.default_rng(1)
    s = rng.normal(size=2000)
    det = ood.fit_threshold("energy", s, 0.95)
    assert det.flag(s).mean() == pytest.approx(0.05, abs=0.01)
    assert ood.OutOfScopeDetector.from_manifest(det.to_manifest()) == det
    with pytest.raises(InputError, match="out_of_scope"):
        ood.OutOfScopeDetector.from_manifest({"method": "magic", "threshold": 1, "in_scope_quantile": 0.9})


def test_energy_unknown_adds_the_weighted_unknown_share_and_round_trips():
    logits = np.array([[5.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    unknown = np.array([0.0, 0.5])
    s = ood.scores("energy_unknown", logits, unknown, unknown_weight=4.0)
    assert s[1] - s[0] == pytest.approx(2.0)
    exposure = np.array([[0.0, 0.0, 0.0]] * 3)  # flat, low logits: high energy
    w = ood.unknown_weight_from(exposure, logits)
    assert w == pytest.approx(ood.energy_score(exposure)[0] - ood.energy_score(logits)[0])
    assert ood.unknown_weight_from(logits, exposure) == 0.0  # never negative
    det = ood.fit_threshold("energy_unknown", s, 0.9, unknown_weight=w)
    assert det.to_manifest()["unknown_weight"] == pytest.approx(w)
    assert ood.OutOfScopeDetector.from_manifest(det.to_manifest()) == det
    assert "unknown_weight" not in ood.fit_threshold("energy", s, 0.9).to_manifest()


def test_auroc_orders_scores():
    assert ood.auroc(np.array([0.0, 0.1]), np.array([0.5, 0.9])) == 1.0
    assert ood.auroc(np.array([]), np.array([1.0])) is None


# ---------------------------------------------------------------- tiny clinical bundle

@pytest.fixture(scope="module")
def clinical_bundle(tiny_clinical_bundle):
    from medviz.bundle import load_bundle

    return load_bundle(tiny_clinical_bundle)


def test_manifest_records_safety_sections(clinical_bundle):
    m = clinical_bundle.manifest
    assert m["preprocessing"]["kind"] == "clinical" and m["preprocessing"]["id"]
    assert m["conformal"]["coverage"] == 0.9 and m["conformal"]["n_calibration"] > 0
    assert m["out_of_scope"]["method"] == "energy"
    assert m["out_of_scope"]["outlier_exposure"]["n_texts"] == 6
    assert m["architecture"]["members"] == 2
    t = m["metrics"]["test"]
    # sets may be empty by design (medviz.text.conformal.prediction_sets), so the mean can be below 1
    assert 0.0 <= t["conformal"]["coverage"] <= 1.0 and 0.0 <= t["conformal"]["mean_set_size"] <= len(m["labels"])
    r = m["metrics"]["robustness"]
    assert r["n_in_scope"] == 2 and r["n_out_of_scope"] == 2
    assert set(r["out_of_scope_auroc_by_method"]) == set(ood.METHODS)
    assert "auroc_vs_calibration" in m["metrics"]["out_of_scope_held_out"]
    assert "out_of_scope_score" in clinical_bundle.test_predictions.columns


def test_ensemble_attention_still_sums_to_one(clinical_bundle):
    from medviz.text.predict import TextPredictor

    pred = TextPredictor.from_bundle(clinical_bundle).predict(["fever and cough", "itchy red rash on my legs today"])
    np.testing.assert_allclose(pred.attention.sum(1), 1.0, atol=1e-5)
    assert (pred.attention[0, 3:] == 0).all()
    np.testing.assert_allclose(pred.probabilities.sum(1), 1.0, atol=1e-5)


def test_analyse_case_reports_negation_terms_and_set(clinical_bundle):
    from medviz.text.analyse import analyse_case
    from medviz.text.predict import TextPredictor

    predictor = TextPredictor.from_bundle(clinical_bundle)
    a = analyse_case(predictor, "34F, pyrexia and productive cough, denies rash, no headache")
    assert a.negated_findings == ("rash", "headache")
    assert "rash" not in a.model_text and "headache" not in a.model_text
    assert {t.meaning for t in a.recognised_terms} >= {"fever", "cough with phlegm", "34 year old woman"}
    assert set(a.prediction_set) <= set(a.labels)
    if a.prediction_set:
        assert a.prediction_set[0] == a.ranked[0][0]
        assert "90% coverage" in a.differential_sentence() and "among" in a.differential_sentence()
    else:
        assert a.low_confidence and "cannot stand behind" in a.differential_sentence()
    assert sum(p for _, p in a.ranked) == pytest.approx(1.0, abs=1e-5)
    assert a.coverage == 0.9
    assert isinstance(a.out_of_scope, bool) and a.out_of_scope_score is not None
    assert len(a.tokens) == len(a.model_text.replace(",", " ").split())
    if a.out_of_scope:
        assert "outside what the model was trained for" in a.warnings[0]


def test_analyse_case_rejects_empty_and_all_negated(clinical_bundle):
    from medviz.text.analyse import analyse_case
    from medviz.text.predict import TextPredictor

    predictor = TextPredictor.from_bundle(clinical_bundle)
    with pytest.raises(InputError, match="empty"):
        analyse_case(predictor, "   ")
    with pytest.raises(InputError, match="absent"):
        analyse_case(predictor, "denies fever, cough or rash.")


def test_out_of_scope_flag_follows_threshold(clinical_bundle):
    from medviz.text.analyse import analyse_batch
    from medviz.text.predict import TextPredictor

    predictor = TextPredictor.from_bundle(clinical_bundle)
    texts = ["fever and cough", "cataract extraction with lens implant", "itchy rash"]
    _, frame = analyse_batch(predictor, texts)
    thr = clinical_bundle.manifest["out_of_scope"]["threshold"]
    assert (frame["out_of_scope"] == (frame["out_of_scope_score"] > thr)).all()


def test_score_csv_has_safety_columns(clinical_bundle):
    from medviz.scoring import score_csv

    src = b"id,text\n1,fever and cough with chills\n2,\n3,denies fever. itchy red rash\n"
    out = io.StringIO()
    summary = score_csv(clinical_bundle, src, out, text_column="text")
    df = pd.read_csv(io.StringIO(out.getvalue()), keep_default_na=False)
    assert summary.rows == 3
    for col in ("prediction_set", "out_of_scope", "out_of_scope_score", "warnings", "error"):
        assert col in df.columns
    labels = set(clinical_bundle.labels)
    assert set(filter(None, df.loc[0, "prediction_set"].split("|"))) <= labels
    if df.loc[0, "prediction_set"]:
        assert df.loc[0, "prediction"] == df.loc[0, "prediction_set"].split("|")[0]
    assert df.loc[1, "prediction_set"] == "" and df.loc[1, "error"] != ""
    assert str(df.loc[0, "out_of_scope"]) in ("True", "False")


def test_unknown_preprocessing_version_is_refused(clinical_bundle):
    from medviz.text.analyse import SafetyConfig

    manifest = json.loads(json.dumps(dict(clinical_bundle.manifest)))
    manifest["preprocessing"]["id"] = "medviz.text.clinical/0"
    with pytest.raises(BundleError, match="preprocessing"):
        SafetyConfig.from_manifest(manifest)
