"""Explanations page and the Case page's explanation section (AppTest, tiny bundles)."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest



@pytest.fixture
def models(tmp_path, tiny_text_bundle, monkeypatch):
    from medviz.bundle import add_bundle_file
    from medviz.explain import TEXT_IMPORTANCE_FILE
    from tests.test_explain import _tabular_bundle

    d = tmp_path / "models"
    d.mkdir()
    shutil.copytree(tiny_text_bundle, d / "tiny-text")
    table = pd.DataFrame({"diagnosis": ["flu", "flu", "rash"], "word": ["fever", "cough", "itchy"],
                          "mean_shap": [0.2, 0.1, 0.3], "count": [4, 2, 3], "n_texts": [6, 6, 6], "basis": "true label"})
    add_bundle_file(d / "tiny-text", TEXT_IMPORTANCE_FILE, table.to_csv(index=False).encode())
    _tabular_bundle(d / "tiny-tab", hidden=False)
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(d))
    return d


@pytest.fixture
def open_page(logged_in_app):
    def _open(page, bundle_path):
        at = logged_in_app(timeout=120)
        at.session_state["app_bundle_path"] = str(bundle_path)  # what the sidebar picker stores
        at.switch_page(page)
        at.run()
        assert not at.exception, at.exception
        return at
    return _open


def test_explanations_page_tabular_test_set(models, open_page):
    at = open_page("pages/explanations.py", models / "tiny-tab")
    assert not at.error
    subheaders = [h.value for h in at.subheader]
    assert {"Mean |SHAP| importance", "Beeswarm", "Dependence"} <= set(subheaders)
    assert any("exact Shapley" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 3
    at.selectbox(key="explanations_feature").set_value("bmi")
    at.run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[2].proto.spec)
    assert "BMI" in spec["layout"]["xaxis"]["title"]["text"]


def test_explanations_page_text_shipped_table(models, open_page):
    at = open_page("pages/explanations.py", models / "tiny-text")
    assert not at.error
    at.selectbox(key="explanations_diagnosis").set_value("flu")
    at.run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["y"] == ["cough", "fever"]


def test_case_page_explains_the_top_diagnosis(models, open_page):
    at = open_page("pages/case.py", models / "tiny-text")
    at.text_area(key="case_text").set_value("I have a fever and a bad cough with chills")
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    subheaders = [h.value for h in at.subheader]
    assert "Why: word contributions (SHAP)" in subheaders
    assert "How far to trust these explanations" in subheaders
    assert any("Base value" in c.value for c in at.caption)
    assert any("describe the model" in i.value for i in at.info)
    labels = at.selectbox(key="case_explain_label").options
    at.selectbox(key="case_explain_label").set_value(labels[1])
    at.run()
    assert not at.exception
    assert any(labels[1] in c.value and "Base value" in c.value for c in at.caption)


def test_explanations_page_opens_on_the_diagnosis_with_the_most_texts(models, open_page):
    """Session 14: the page opened on the first diagnosis by name whatever the number of texts behind it."""
    from medviz.bundle import add_bundle_file
    from medviz.explain import TEXT_IMPORTANCE_FILE

    table = pd.DataFrame({"diagnosis": ["flu", "flu", "rash"], "word": ["fever", "cough", "itchy"],
                          "mean_shap": [0.2, 0.1, 0.3], "count": [4, 2, 3], "n_texts": [6, 6, 9], "basis": "true label"})
    add_bundle_file(models / "tiny-text", TEXT_IMPORTANCE_FILE, table.to_csv(index=False).encode())
    at = open_page("pages/explanations.py", models / "tiny-text")
    box = at.selectbox(key="explanations_diagnosis")
    assert box.value == "rash" and box.options == ["flu (n = 6)", "rash (n = 9)"]
