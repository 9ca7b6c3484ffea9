"""Evaluation and Model card pages, driven with Streamlit's AppTest on tiny bundles in tmp_path."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, sign_in_session, tiny_text_frame
from tests.evaluation_fixtures import TinyTabularScorer, build_tiny_tabular_bundle, cohort

EVAL_PAGE = "pages/evaluation.py"
CARD_PAGE = "pages/model_card.py"


@pytest.fixture(scope="module")
def eval_models_dir(tmp_path_factory, tiny_text_bundle):
    d = tmp_path_factory.mktemp("models")
    shutil.copytree(tiny_text_bundle, d / "tiny-text")
    build_tiny_tabular_bundle(d / "tiny-tab")
    return d


_USER_FACTORY: dict = {}


@pytest.fixture(autouse=True)
def _signed_in_user_factory(make_user):
    _USER_FACTORY["make"] = make_user
    yield
    _USER_FACTORY.clear()


@pytest.fixture(autouse=True)
def _env(eval_models_dir, monkeypatch):
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(eval_models_dir))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _open(eval_models_dir, bundle: str, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    sign_in_session(at, _USER_FACTORY["make"]("eval-tester", "clinician"))
    at.session_state["app_bundle_path"] = str(eval_models_dir / bundle)  # what the sidebar picker stores
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _charts(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _threshold_values(at) -> dict[str, str]:
    t = next(df.value for df in at.dataframe if "Measure" in df.value.columns)
    return dict(zip(t["Measure"], t["Value"]))


def test_tabular_evaluation_page_and_threshold_slider(eval_models_dir):
    at = _open(eval_models_dir, "tiny-tab", EVAL_PAGE)
    labels = [m.label for m in at.metric]
    for needed in ("AUC", "Calibration slope", "Calibration intercept", "Brier score", "Prevalence"):
        assert needed in labels
    titles = " ".join(c["layout"]["title"]["text"] for c in _charts(at))
    for needed in ("ROC", "precision–recall", "calibration", "net benefit", "confusion matrix at 0.40"):
        assert needed in titles
    before = _threshold_values(at)
    at.slider(key="evaluation_threshold_Yes").set_value(0.9).run()
    assert not at.exception
    after = _threshold_values(at)
    assert before["Sensitivity"] != after["Sensitivity"]
    assert any("confusion matrix at 0.90" in c["layout"]["title"]["text"] for c in _charts(at))


def test_text_evaluation_page_with_upload_side_by_side(eval_models_dir):
    at = _open(eval_models_dir, "tiny-text", EVAL_PAGE)
    labels = [m.label for m in at.metric]
    assert "Top-1 accuracy" in labels and "Macro AUC (one-vs-rest)" in labels
    df = tiny_text_frame().rename(columns={"label": "diagnosis"})
    df["site"] = np.where(np.arange(len(df)) % 2 == 0, "A", "B")
    at.file_uploader(key="evaluation_upload").set_value(("mine.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="evaluation_label_column").set_value("diagnosis")
    at.selectbox(key="evaluation_text_column").set_value("text")
    at.button(key="evaluation_run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    titles = [c["layout"]["title"]["text"] for c in _charts(at)]
    assert any(t.startswith("Test set") for t in titles) and any(t.startswith("Your data") for t in titles)
    assert "How your data differ from the training data" in [s.value for s in at.subheader]
    at.selectbox(key="evaluation_subgroup").set_value("external:site").run()
    assert not at.exception
    sub = next(d.value for d in at.dataframe if "group" in d.value.columns)
    assert set(sub["group"]) == {"A", "B"} and (sub["flag"] != "").all()
    # uploaded data are kept in session state, never in a cache shared by sessions
    assert "evaluation_external" in at.session_state


def test_tabular_upload_with_shift(eval_models_dir, monkeypatch):
    from medviz.ui.evaluation_views import external as evaluation_views

    monkeypatch.setattr(evaluation_views, "_scorer", lambda bundle, text_column: TinyTabularScorer(bundle))
    at = _open(eval_models_dir, "tiny-tab", EVAL_PAGE)
    df = cohort(300, seed=9, age_shift=20)
    df["outcome"] = np.where(df.pop("y_true") == 1, "Yes", "No")
    at.file_uploader(key="evaluation_upload").set_value(("mine.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="evaluation_label_column").set_value("outcome")
    at.button(key="evaluation_run").click().run()
    assert not at.exception, at.exception
    assert any("differs markedly" in i.value for i in at.info)
    shift = next(d.value for d in at.dataframe if "PSI" in d.value.columns)
    assert shift.set_index("Feature").loc["Age", "Verdict"] == "major shift"


def test_upload_with_bad_labels_shows_error(eval_models_dir, monkeypatch):
    from medviz.ui.evaluation_views import external as evaluation_views

    monkeypatch.setattr(evaluation_views, "_scorer", lambda bundle, text_column: TinyTabularScorer(bundle))
    at = _open(eval_models_dir, "tiny-tab", EVAL_PAGE)
    df = cohort(30, seed=9).assign(outcome="maybe")
    at.file_uploader(key="evaluation_upload").set_value(("mine.csv", df.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="evaluation_label_column").set_value("outcome")
    at.button(key="evaluation_run").click().run()
    assert not at.exception
    # the message names the column and the lines, never the cell values (issue 17, PHI)
    assert any("not an outcome" in e.value for e in at.error)
    assert not any("maybe" in e.value for e in at.error)


def test_model_card_page(eval_models_dir):
    at = _open(eval_models_dir, "tiny-text", CARD_PAGE)
    heads = [s.value for s in at.subheader]
    assert "Intended use, users and out-of-scope uses" in heads and "Performance overall and by subgroup" in heads
    assert len(at.get("download_button")) == 1


def test_case_page_shows_test_reliability_of_suggestions(eval_models_dir):
    at = _open(eval_models_dir, "tiny-text", "pages/case.py")
    at.text_area(key="case_text").set_value("fever and a cough with chills")
    at.button[0].click().run()
    assert not at.exception, at.exception
    rel = next(d.value for d in at.dataframe if "PPV (95% CI)" in d.value.columns)
    assert len(rel) == 3 and set(rel["Diagnosis"]) == {"flu", "migraine", "rash"}
    assert (rel["Test cases"] == 6).all()


def test_evaluation_and_model_card_in_chinese(eval_models_dir):
    """Issue 14: a Chinese session sees the Evaluation page's sections, metrics and chart titles and the
    model card (page and download) in Chinese; an English session afterwards gets English again from the
    same caches (they hold numbers, or are keyed by language)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    sign_in_session(at, _USER_FACTORY["make"]("eval-zh", "clinician"))
    at.session_state["app_bundle_path"] = str(eval_models_dir / "tiny-tab")
    at.session_state["i18n_language"] = "zh_CN"
    at.switch_page(EVAL_PAGE).run()
    assert not at.exception, at.exception
    subheaders = [s.value for s in at.subheader]
    assert "这些数字针对的人群" in subheaders and "亚组" in subheaders
    assert {"患者", "事件", "患病率", "校准斜率"} <= {m.label for m in at.metric}
    titles = [c["layout"]["title"]["text"] for c in _charts(at)]
    assert "测试集：校准" in titles and any(t.startswith("测试集：ROC — ") for t in titles)
    roc = next(c for c in _charts(at) if c["layout"]["title"]["text"].startswith("测试集：ROC"))
    assert roc["layout"]["xaxis"]["title"]["text"] == "1 − 特异度（假阳性率）"

    at.switch_page(CARD_PAGE).run()
    assert not at.exception, at.exception
    assert "模型详情" in [s.value for s in at.subheader] and "人工监督" in [s.value for s in at.subheader]
    html = at.get("download_button")[0].proto.label
    assert html == "下载模型卡（HTML）"

    at.session_state["i18n_language"] = "en"
    at.run()
    assert not at.exception, at.exception
    assert "Model details" in [s.value for s in at.subheader] and "模型详情" not in [s.value for s in at.subheader]


def test_a_proportion_with_its_interval_has_one_form():
    """pct_estimate: the one text of "estimate (95% CI)" in the evaluation tables, the case context table and captions
    (three hand-made copies before session 14): small values through format_probability, missing parts left out."""
    from medviz.ui.evaluation_views.common import pct_estimate, pct_range

    assert pct_estimate(0.42, 0.3, 0.55) == "42% (30%–55%)"
    assert pct_estimate(0.004, 0.0, 0.02) == "<1% (0%–2%)"
    assert pct_estimate(0.123, 0.1, 0.15, 1) == "12.3% (10.0%–15.0%)"
    assert pct_estimate(0.5, None, None) == "50%" and pct_estimate(0.5, float("nan"), 0.6) == "50%"
    assert pct_estimate(None, 0.1, 0.2) == "–" and pct_estimate(float("nan"), 0.1, 0.2) == "–"
    assert pct_range(0.0004, 0.2) == "<1%–20%"
