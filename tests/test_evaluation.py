"""Cohort evaluation: bundles' own test predictions, external validation, subgroups, shift, context."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from medviz import evaluation as E
from medviz.bundle import load_bundle
from medviz.errors import InputError, SchemaError
from tests.conftest import tiny_text_frame
from tests.evaluation_fixtures import TinyTabularScorer, build_tiny_tabular_bundle, cohort, risk_of


@pytest.fixture(scope="module")
def tab_bundle(tmp_path_factory):
    return load_bundle(build_tiny_tabular_bundle(tmp_path_factory.mktemp("b") / "tiny-tab"))


@pytest.fixture(scope="module")
def text_bundle(tiny_text_bundle):
    return load_bundle(tiny_text_bundle)


def test_tabular_test_evaluation_matches_sklearn_and_uses_deployed_threshold(tab_bundle):
    ev = E.evaluate_bundle_test(tab_bundle, resamples=300)
    tp = tab_bundle.test_predictions
    assert isinstance(ev, E.BinaryEvaluation)
    assert ev.auc.estimate == pytest.approx(roc_auc_score(tp["y_true"], tp["risk"]))
    assert ev.auc.lo < ev.auc.estimate < ev.auc.hi and ev.auc.resamples == 300
    assert ev.threshold == 0.4 and "chosen for the tests" in ev.threshold_source
    assert ev.cohort.source == E.INTERNAL and ev.cohort.events == int(tp["y_true"].sum())
    assert ev.positive_label == "Yes"
    # the model is the data-generating model: calibration slope ~ 1
    assert ev.recalibration.slope_lo < 1 < ev.recalibration.slope_hi
    cm = ev.confusion(0.9)
    assert cm["tp"] + cm["fp"] == int((tp["risk"] >= 0.9).sum())
    json.dumps(E.summary_json(ev), allow_nan=False)


def test_text_test_evaluation(text_bundle):
    ev = E.evaluate_bundle_test(text_bundle, resamples=200)
    assert isinstance(ev, E.MulticlassEvaluation)
    assert ev.cohort.n == len(text_bundle.test_predictions)
    m = text_bundle.manifest["metrics"]["test"]
    assert ev.top1 == pytest.approx(m["top1_accuracy"])
    assert ev.macro_auc.estimate == pytest.approx(m["macro_auc"])
    assert list(ev.per_class["label"]) == text_bundle.labels
    ovr = ev.one_vs_rest("flu", resamples=100)
    assert ovr.cohort.events == int((text_bundle.test_predictions["y_true"] == "flu").sum())
    with pytest.raises(InputError, match="not one the model knows"):
        ev.one_vs_rest("gout")
    json.dumps(E.summary_json(ev), allow_nan=False)


@pytest.mark.parametrize(
    "values, expected",
    [(["0", "1", "1"], [0, 1, 1]), (["true", "False", "TRUE"], [1, 0, 1]), (["Yes", "no", " YES "], [1, 0, 1])],
)
def test_binary_labels_accept_common_codings(tab_bundle, values, expected):
    assert E.binary_labels(pd.Series(values), tab_bundle).tolist() == expected


def test_binary_labels_reject_unknown_values_and_name_them(tab_bundle):
    # named by line number (header = line 1), never by value: a wrong column may hold names or notes
    with pytest.raises(SchemaError, match=r"outcome: line 3 .*not an outcome.*positive = Yes") as err:
        E.binary_labels(pd.Series(["Yes", "maybe"]), tab_bundle, "outcome")
    assert "maybe" not in str(err.value)


def test_labels_to_index_is_case_and_space_insensitive():
    assert E.labels_to_index(pd.Series(["Flu", " migraine", "RASH"]), ["flu", "migraine", "rash"]).tolist() == [0, 1, 2]
    with pytest.raises(SchemaError, match="line 2 .*label the model does not know") as err:
        E.labels_to_index(pd.Series(["gout"]), ["flu"])
    assert "gout" not in str(err.value)


def test_external_validation_tabular(tab_bundle):
    df = cohort(500, seed=11, age_shift=15)
    df["outcome"] = np.where(df.pop("y_true") == 1, "Yes", "No")
    df = df.astype(str)
    df.loc[0, "outcome"] = ""  # blank label: left out
    df.loc[1, "marker"] = "abc"  # cannot be scored: left out
    df["sex"] = np.where(np.arange(500) % 10 == 0, "F", "M")
    res = E.evaluate_external(tab_bundle, df, "outcome", scorer=TinyTabularScorer(tab_bundle), resamples=200)
    ev = res.evaluation
    assert ev.cohort.source == E.EXTERNAL and ev.cohort.n == 498
    assert ev.cohort.excluded == {"blank label": 1, "could not be scored (see the error column of a batch score)": 1}
    kept = df.iloc[2:]
    assert ev.auc.estimate == pytest.approx(roc_auc_score(kept["outcome"] == "Yes", risk_of(kept)), abs=1e-3)
    # cohort shift: age moved by 15 years, marker not
    shift = res.shift.table.set_index("feature")
    assert shift.loc["age", "verdict"] == "major shift"
    assert shift.loc["marker", "verdict"] == "similar"
    assert "Age" in res.shift.verdict and "reference.csv" in res.shift.reference
    # subgroups: small group flagged, not hidden
    sub = E.subgroup_table(ev, res.scored["sex"], resamples=100)
    assert set(sub["group"]) == {"F", "M"} and sub["n"].sum() == 498
    assert sub.set_index("group").loc["F", "flag"] != ""
    json.dumps(E.summary_json(ev, shift=res.shift), allow_nan=False)


def test_external_validation_rejects_bad_labels(tab_bundle):
    df = cohort(20, seed=1).astype(str)
    df["outcome"] = "perhaps"
    with pytest.raises(SchemaError, match="label column 'outcome': lines 2, 3, 4, 5, 6 and 15 more"):
        E.evaluate_external(tab_bundle, df, "outcome", scorer=TinyTabularScorer(tab_bundle))
    with pytest.raises(SchemaError, match="label column 'nope' not found"):
        E.evaluate_external(tab_bundle, df, "nope", scorer=TinyTabularScorer(tab_bundle))


def test_shift_falls_back_to_test_data_without_reference(tmp_path):
    b = load_bundle(build_tiny_tabular_bundle(tmp_path / "noref", reference=False))
    shift = E.tabular_shift(b, cohort(200, seed=2).astype(str))
    assert "test data" in shift.reference and len(shift.table) == 2


def test_external_validation_text(text_bundle):
    df = tiny_text_frame()
    df.loc[len(df)] = {"text": "sudden chest pain", "label": "angina"}  # not a diagnosis the model knows
    df.loc[len(df)] = {"text": "", "label": "flu"}  # empty text: scorer error
    res = E.evaluate_external(text_bundle, df.astype(str), "label", text_column="text", resamples=100)
    ev = res.evaluation
    assert ev.cohort.n == 18
    assert ev.cohort.excluded["label not among the model's diagnoses"] == 1
    assert any("1 row(s) carry labels the model cannot predict" in n for n in res.notes)
    assert not any("angina" in n for n in res.notes)  # named by line number, never by value
    assert sum(ev.cohort.excluded.values()) == 2
    assert res.shift.kind == "text"
    cov = res.shift.table.set_index("measure").loc["token occurrences in the model's vocabulary", "cohort"]
    assert cov > 0.7  # mostly the training texts (a third was the validation split)


def test_text_shift_detects_unknown_wording(text_bundle):
    s = E.text_shift(text_bundle, pd.Series(["zzz qqq xyz fever", "lorem ipsum dolor"]))
    cov = s.table.set_index("measure").loc["token occurrences in the model's vocabulary", "cohort"]
    assert cov == pytest.approx(1 / 7)
    assert "unlike what it was trained on" in s.verdict


def test_psi():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 5000)
    assert E.psi(a, rng.normal(0, 1, 5000)) < 0.02
    assert E.psi(a, rng.normal(1, 1, 5000)) > 0.25


def test_group_values_bands_numeric_columns():
    g = E.group_values(pd.Series([str(v) for v in range(20, 80)] + [""]))
    assert g.nunique() == 5 and "(missing)" in set(g)
    g2 = E.group_values(pd.Series(["a"] * 5 + ["b"] * 3))
    assert set(g2) == {"a", "b"}


def test_multiclass_subgroups(text_bundle):
    ev = E.evaluate_bundle_test(text_bundle, resamples=50)
    groups = np.where(np.arange(ev.cohort.n) < 9, "first", "second")
    t = E.subgroup_table(ev, groups, resamples=50)
    assert t["n"].sum() == ev.cohort.n and (t["flag"] != "").all()  # both < 30: flagged, still shown


def test_diagnosis_and_risk_context(text_bundle, tab_bundle):
    d = E.diagnosis_context(text_bundle, "flu")
    assert d["support"] == 6 and 0 <= d["sensitivity"] <= 1 and "flu" in d["text"]
    ev = E.evaluate_bundle_test(tab_bundle, resamples=0)
    r = E.risk_context(tab_bundle, 0.3, ev)
    assert r["in_range"] and r["observed_lo"] <= r["observed"] <= r["observed_hi"]
    assert 0 < r["percentile"] < 1 and "30%" in r["text"]
    far = E.risk_context(tab_bundle, 0.9999, ev)
    assert not far["in_range"] and "outside" in far["text"]


def test_summary_json_carries_every_table_the_page_draws():
    """`evaluate --json` renders the same result object as the page: decision curve included."""
    import json

    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 200)
    risk = np.clip(y * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    ev = E.evaluate_binary(y, risk, resamples=50)
    j = json.loads(json.dumps(E.summary_json(ev), allow_nan=False))
    t = j["tables"]
    assert set(t) == {"roc", "precision_recall", "calibration_binned", "calibration_smoothed", "decision_curve"}
    assert len(t["decision_curve"]) == len(ev.decision)
    assert t["decision_curve"][10]["net_benefit"] == pytest.approx(ev.decision.iloc[10]["net_benefit"])
    labels = ["a", "b", "c"]
    yi = rng.integers(0, 3, 90)
    mc = E.evaluate_multiclass(yi, rng.dirichlet(np.ones(3), 90), labels, resamples=20)
    t = E.summary_json(mc)["tables"]
    assert set(t["one_vs_rest"]) == set(labels) and t["one_vs_rest"]["b"]["decision_curve"]
    assert sum(c["n"] for c in t["confusion_matrix"]) == 90
