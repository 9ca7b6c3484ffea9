"""Explanation charts are pure functions of shap.Explanation objects; user text is escaped."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shap

from medviz.charts import explain as C

LABELS = ["flu", "<b>rash</b>"]


def _text_exp():
    data = np.array(["<script>alert(1)</script> ", "fever ", "& cough"], dtype=object)
    values = np.array([[0.1, -0.1], [0.3, -0.2], [-0.05, 0.02]])
    return shap.Explanation(values=values, base_values=np.array([0.4, 0.6]), data=data,
                            feature_names=["script", "fever", "cough"], output_names=LABELS)


def test_text_html_escapes_every_token_and_colours_by_sign():
    html = C.text_shap_html(_text_exp(), "flu", unread_tail="<img src=x>")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x&gt;" in html
    assert "&amp; cough" in html
    assert html.count("rgba(214,39,40") == 2 and html.count("rgba(31,119,180") == 1  # two red, one blue
    assert 'title="+0.3000"' in html
    att = shap.Explanation(values=np.array([0.2, 0.5, 0.3]), base_values=0.0, data=_text_exp().data)
    assert "<script>" not in C.attention_html(att)


def test_word_bar_default_is_top_class_and_states_base():
    fig = C.word_bar(_text_exp())
    assert "flu" in fig.layout.title.text and "base 0.400" in fig.layout.title.text
    assert list(fig.data[0].y)[-1] == "fever"  # strongest word at the top
    fig2 = C.word_bar(_text_exp(), "<b>rash</b>")
    assert "<b>" not in fig2.layout.title.text


def test_deletion_chart_has_three_lines():
    t = pd.DataFrame({"k": [1, 1, 1, 2, 2, 2], "method": ["SHAP", "attention", "random"] * 2,
                      "probability": [0.5, 0.6, 0.7, 0.3, 0.5, 0.65]})
    t["drop"] = 0.8 - t["probability"]
    t.attrs.update(label="flu", n_random=20)
    fig = C.deletion_chart(t)
    assert len(fig.data) == 3 and "mean of 20" in fig.data[2].name


SPECS = [{"name": "glu", "label": "Glucose", "unit": "mg/dL"}, {"name": "age", "label": "Age", "unit": "years", "type": "integer"},
         {"name": "bmi", "label": "BMI", "unit": "kg/m²"}]


def _tab_exp(n=50):
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(120, 30, n), rng.integers(20, 80, n), rng.normal(30, 5, n)])
    data[0, 2] = np.nan
    values = rng.normal(0, 0.05, (n, 3))
    return shap.Explanation(values=values, base_values=np.full(n, 0.3), data=data, feature_names=["glu", "age", "bmi"])


def test_waterfall_runs_from_base_to_risk_with_values_and_units():
    exp = _tab_exp()
    fig = C.waterfall(exp[1], SPECS)
    w = fig.data[0]
    assert w.measure[0] == "absolute" and w.measure[-1] == "total"
    assert w.x[0] == 0.3
    assert abs(w.x[-1] - (0.3 + exp.values[1].sum())) < 1e-12
    labels = " ".join(w.y)
    assert "Glucose = " in labels and "mg/dL" in labels and "years" in labels and "kg/m²" in labels
    assert "blank" in " ".join(C.waterfall(exp[0], SPECS).data[0].y)


def test_global_charts():
    exp = _tab_exp()
    imp = C.mean_abs_importance(exp, SPECS)
    np.testing.assert_allclose(sorted(imp.data[0].x), sorted(np.abs(exp.values).mean(0)))
    assert "Glucose (mg/dL)" in imp.data[0].y
    bee = C.beeswarm(exp, SPECS)
    assert len(bee.data) == 3
    dep = C.dependence(exp, "glu", SPECS, color_by="age")
    np.testing.assert_allclose(dep.data[0].y, exp.values[:, 0])
    json.loads(dep.to_json())


def test_word_importance_chart():
    t = pd.DataFrame({"diagnosis": ["flu", "flu", "rash"], "word": ["fever", "<i>x</i>", "itch"],
                      "mean_shap": [0.2, 0.1, 0.3], "count": [4, 2, 3], "n_texts": [3, 3, 2], "basis": "true label"})
    fig = C.word_importance_chart(t, "flu")
    assert list(fig.data[0].y) == ["&lt;i&gt;x&lt;/i&gt;", "fever"]


def test_chart_text_follows_the_language_of_the_call():
    """Issue 14: titles, axes, legends and hover labels in the active language; user labels as written."""
    from medviz.charts import evaluation as E
    from medviz.charts.batch import band_counts
    from medviz.i18n import use_language

    roc = pd.DataFrame({"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.8, 1.0], "threshold": [1.0, 0.5, 0.0]})
    with use_language("zh_CN"):
        fig = E.roc_chart(roc, 0.8, 0.7, 0.9)
        bar = C.word_bar(_text_exp(), "<b>rash</b>")
        bands = band_counts(["low", "high", ""])
    assert fig.layout.title.text == "ROC 曲线"
    assert fig.layout.xaxis.title.text == "1 − 特异度（假阳性率）"
    assert fig.data[1].name == "模型：AUC 0.800（95% 置信区间 0.700–0.900）"
    assert "敏感度 %{y:.2f}" in fig.data[1].hovertemplate
    assert bar.layout.xaxis.title.text == "SHAP 值（校准概率）"
    assert "&lt;b&gt;rash&lt;/b&gt;" in bar.layout.title.text  # the label as written, escaped
    assert list(bands.data[0].x) == ["低", "高", "未评分"]
    english = E.roc_chart(roc, 0.8, 0.7, 0.9)  # outside the block: English again
    assert english.layout.title.text == "ROC curve" and english.data[1].name.startswith("model: AUC 0.800 (95% CI")


def test_word_bar_names_a_repeated_word_by_its_place():
    """A word written twice gets its place in the text ("fever (word 1)"), not "#1", which read as a rank."""
    values = np.array([[0.3, -0.3], [0.1, -0.1], [0.2, -0.2]])
    exp = shap.Explanation(values=values, base_values=np.array([0.4, 0.6]), data=np.array(["fever ", "2 ", "fever"]),
                           feature_names=["fever", "2", "fever"], output_names=LABELS)
    assert list(C.word_bar(exp, "flu").data[0].y) == ["2", "fever (word 3)", "fever (word 1)"]
