"""medviz.explain: SHAP for text and tabular bundles (additivity, alignment, exactness, checks)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medviz.bundle import load_bundle
from medviz.errors import InputError
from medviz.text.predict import TextPredictor

TEXT = "I have a FEVER, cough & chills (38.9C) for 3 days"


@pytest.fixture(scope="module")
def text_explainer(tiny_text_bundle):
    from medviz.explain import TextExplainer

    return TextExplainer.from_predictor(TextPredictor.from_bundle(load_bundle(tiny_text_bundle)))


# ---------------------------------------------------------------------------------- text


def test_tokenizer_matches_model_tokens(text_explainer):
    from medviz.explain import ModelTokenizer

    tok = ModelTokenizer()(TEXT)
    words = text_explainer.predictor.tokens(TEXT)
    assert tok["input_ids"] == [w.normalized for w in words]
    assert tok["offset_mapping"] == [(w.start, w.end) for w in words]
    assert ModelTokenizer(max_tokens=3)(TEXT)["input_ids"] == ["i", "have", "a"]


def test_trimmed_function_matches_predictor(text_explainer):
    texts = [TEXT, "headache", "", "rash " * 30]
    np.testing.assert_allclose(
        text_explainer.probabilities(texts), text_explainer.predictor.predict(texts).probabilities, atol=1e-5
    )


def test_text_additivity_on_probability_scale(text_explainer):
    from medviz.explain import model_output

    exp = text_explainer.explain(TEXT)
    n_words = min(len(text_explainer.predictor.tokens(TEXT)), text_explainer.seq_len)
    assert exp.values.shape == (n_words, 3)
    assert list(exp.output_names) == text_explainer.predictor.bundle.labels
    probs = text_explainer.predictor.predict([TEXT]).probabilities[0]
    np.testing.assert_allclose(model_output(exp), probs, atol=1e-4)
    # base value = the model with every word masked, i.e. an empty text
    np.testing.assert_allclose(exp.base_values, text_explainer.predictor.predict([""]).probabilities[0], atol=1e-5)
    assert exp.feature_names[3] == "FEVER"  # as typed
    assert "".join(exp.data) == TEXT


def test_explanation_is_deterministic(text_explainer):
    a = text_explainer.explain(TEXT).values
    b = text_explainer.explain(TEXT).values
    np.testing.assert_array_equal(a, b)


def test_single_word_text(text_explainer):
    from medviz.explain import explain_text_case, model_output

    case = explain_text_case(text_explainer, "  fever!!")
    assert case.shap.values.shape == (1, 3)
    np.testing.assert_allclose(model_output(case.shap), text_explainer.predictor.predict(["fever"]).probabilities[0], atol=1e-5)


def test_text_without_words_is_refused(text_explainer):
    with pytest.raises(InputError, match="no words"):
        text_explainer.explain("?!… 发烧")


def test_words_beyond_the_model_length_are_not_features(text_explainer):
    from medviz.explain import explain_text_case, model_output

    long = "fever " * (text_explainer.seq_len + 5) + "rash"
    case = explain_text_case(text_explainer, long)
    assert case.shap.values.shape[0] == text_explainer.seq_len
    assert case.words_not_read == 6
    assert case.unread_tail.split() == ["fever"] * 5 + ["rash"]
    np.testing.assert_allclose(model_output(case.shap), text_explainer.predictor.predict([long]).probabilities[0], atol=1e-4)


def test_attention_covers_the_same_words(text_explainer):
    from medviz.explain import attention_explanation, explain_text_case

    case = explain_text_case(text_explainer, TEXT)
    assert case.attention.values.shape == (case.shap.values.shape[0],)
    np.testing.assert_allclose(case.attention.values.sum(), 1.0, atol=1e-5)
    assert list(case.attention.data) == list(case.shap.data)
    att = attention_explanation(text_explainer.predictor, TEXT)
    np.testing.assert_allclose(att.values, text_explainer.predictor.predict([TEXT]).attention[0][: len(att.values)])


def test_rank_agreement():
    from medviz.explain import rank_agreement

    s = np.array([0.3, -0.2, 0.05, 0.0])
    perfect = rank_agreement(s, np.abs(s) / np.abs(s).sum())
    assert perfect["spearman"] == pytest.approx(1.0) and perfect["kendall"] == pytest.approx(1.0)
    opposite = rank_agreement(s, np.array([0.0, 0.1, 0.3, 0.6]))
    assert opposite["spearman"] == pytest.approx(-1.0)
    assert np.isnan(rank_agreement(s, np.full(4, 0.25))["spearman"])
    with pytest.raises(InputError):
        rank_agreement(s, np.ones(3))


def test_deletion_check(text_explainer):
    from medviz.explain import deletion_check, explain_text_case

    case = explain_text_case(text_explainer, TEXT)
    label = text_explainer.labels[int(np.argmax(case.probabilities))]
    t1 = deletion_check(text_explainer, case.shap, case.attention, label, max_k=4, n_random=5, seed=3)
    t2 = deletion_check(text_explainer, case.shap, case.attention, label, max_k=4, n_random=5, seed=3)
    pd.testing.assert_frame_equal(t1, t2)
    assert set(t1["method"]) == {"SHAP", "attention", "random"}
    assert sorted(t1["k"].unique()) == [1, 2, 3, 4]
    full = t1.attrs["full_probability"]
    np.testing.assert_allclose(t1["drop"], full - t1["probability"])
    # deleting the single most positive SHAP word: check by hand
    j = text_explainer.labels.index(label)
    top = int(np.argmax(case.shap.values[:, j]))
    kept = " ".join(s for i, s in enumerate(case.shap.data) if i != top)
    by_hand = text_explainer.predictor.predict([kept]).probabilities[0, j]
    got = t1[(t1["k"] == 1) & (t1["method"] == "SHAP")]["probability"].iloc[0]
    assert got == pytest.approx(by_hand, abs=1e-5)


def test_top_reasons_text(text_explainer):
    from medviz.explain import top_reasons_text

    exp = text_explainer.explain(TEXT)
    label = text_explainer.labels[0]
    s = top_reasons_text(exp, label)
    parts = s.split("; ")
    assert len(parts) == 3
    vals = [float(p.rsplit("(", 1)[1].rstrip(")")) for p in parts]
    assert all(p.rsplit(" (", 1)[1][0] in "+-" for p in parts)
    assert abs(vals[0]) >= abs(vals[1]) >= abs(vals[2])


def test_global_text_importance(text_explainer):
    from medviz.explain import global_text_importance

    from tests.conftest import TINY_TEXT

    texts = [t for ts in TINY_TEXT.values() for t in ts[:3]]
    labels = [lab for lab, ts in TINY_TEXT.items() for _ in ts[:3]]
    seen = []
    table = global_text_importance(text_explainer, texts, labels, top_n=3, min_count=2,
                                   progress=lambda d, n: seen.append((d, n)))
    assert list(table.columns) == ["diagnosis", "word", "mean_shap", "count", "n_texts", "basis"]
    assert (table["count"] >= 2).all()
    assert (table.groupby("diagnosis").size() <= 3).all()
    assert set(table["n_texts"]) == {3}
    assert seen[-1] == (9, 9)
    flu = table[table["diagnosis"] == "flu"]
    assert "fever" in set(flu["word"])
    with pytest.raises(InputError):
        global_text_importance(text_explainer, texts, labels[:2])


def test_text_importance_artefact_roundtrip(tiny_text_bundle, tmp_path, text_explainer):
    import shutil

    from medviz.bundle import add_bundle_file, load_bundle
    from medviz.explain import TEXT_IMPORTANCE_FILE, read_text_importance

    path = tmp_path / "b"
    shutil.copytree(tiny_text_bundle, path)
    assert read_text_importance(load_bundle(path)) is None
    table = pd.DataFrame({"diagnosis": ["flu"], "word": ["fever"], "mean_shap": [0.2], "count": [3], "n_texts": [3],
                          "basis": ["true label"]})
    add_bundle_file(path, TEXT_IMPORTANCE_FILE, table.to_csv(index=False).encode())
    got = read_text_importance(load_bundle(path))  # verify=True checks the new checksum
    assert got["word"].tolist() == ["fever"]


def test_text_scoring_with_top_reasons(tiny_text_bundle):
    from medviz.scoring import make_scorer, score_frame

    bundle = load_bundle(tiny_text_bundle)
    scorer = make_scorer(bundle, text_column="text", explain=True)
    assert "top_reasons" in scorer.output_columns()
    out = score_frame(scorer, pd.DataFrame({"text": ["fever and cough", "", "itchy red rash"]}))
    assert out.columns.tolist().index("top_reasons") < out.columns.tolist().index("warnings")
    assert out["top_reasons"].iloc[1] == ""
    assert out["top_reasons"].iloc[0].count(";") == 2
    plain = make_scorer(bundle, text_column="text")
    assert "top_reasons" not in score_frame(plain, pd.DataFrame({"text": ["fever"]})).columns


# ---------------------------------------------------------------------------------- tabular

FEATURES = [
    {"name": "age", "label": "Age", "unit": "years", "type": "integer"},
    {"name": "glucose", "label": "Glucose", "unit": "mg/dL", "type": "float"},
    {"name": "bmi", "label": "BMI", "unit": "kg/m²", "type": "float"},
    {"name": "bp", "label": "Blood pressure", "unit": "mmHg", "type": "float"},
]


def _tabular_bundle(path, hidden: bool, seed: int = 0):
    import keras

    from medviz.bundle import save_bundle

    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(20, 80, 60), rng.normal(120, 30, 60), rng.normal(30, 6, 60), rng.normal(75, 10, 60)])
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(4,), dtype="float32")
    norm = keras.layers.Normalization()
    norm.adapt(x.astype("float32"))
    h = norm(inp)
    if hidden:
        h = keras.layers.Dense(6, activation="tanh")(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="risk")(h)
    model = keras.Model(inp, [out])
    manifest = {"name": path.name, "version": "0.1", "task": "tabular_binary", "labels": ["no", "yes"],
                "inputs": {"kind": "tabular", "features": FEATURES}}
    ref = pd.DataFrame(x, columns=[f["name"] for f in FEATURES]).round(2)
    test = ref.head(20).copy()
    test["y_true"] = (rng.random(20) < 0.4).astype(int)
    return save_bundle(path, model, manifest, test_predictions=test,
                       extra_files={"reference.csv": ref.to_csv(index=False).encode()}), x


@pytest.fixture(scope="module")
def tab_bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("tab")
    lin, x = _tabular_bundle(d / "tiny-logistic", hidden=False)
    mlp, _ = _tabular_bundle(d / "tiny-mlp", hidden=True)
    return load_bundle(lin), load_bundle(mlp), x


@pytest.mark.parametrize("which", [0, 1])
def test_tabular_exact_matches_shap_exact_and_adds_up(tab_bundles, which):
    import shap

    from medviz.explain import TabularExplainer, model_output

    bundle, x = tab_bundles[which], tab_bundles[2]
    ex = TabularExplainer.from_bundle(bundle, max_background=30)
    assert ex.additive is (which == 0)  # logistic: fast exact path; MLP: generic exact path
    rows = x[:6] + np.array([1, 5.0, -1.0, 2.0])
    exp = ex.explain(rows)
    assert exp.values.shape == (6, 4)
    np.testing.assert_allclose(model_output(exp), ex.predict(rows), atol=1e-4)
    np.testing.assert_allclose(exp.base_values, ex.predict(ex.background).mean(), atol=1e-5)
    ref = shap.explainers.Exact(ex.predict, shap.maskers.Independent(ex.background, max_samples=len(ex.background)))
    np.testing.assert_allclose(exp.values, ref(rows).values, atol=2e-5)


def test_tabular_warm_up_builds_the_table_and_changes_no_value(tab_bundles):
    from medviz.explain import TabularExplainer

    bundle, x = tab_bundles[0], tab_bundles[2]
    rows = np.repeat(x[:5], TabularExplainer.TABLE_MIN_ROWS // 5 + 1, axis=0)  # the table's path
    cold = TabularExplainer.from_bundle(bundle).shap_values(rows)
    ex = TabularExplainer.from_bundle(bundle)
    assert "table" not in ex._cache
    ex.warm_up()  # a Dask worker's load step: the coalition table and its compiled function, built now
    assert "table" in ex._cache
    np.testing.assert_allclose(ex.shap_values(rows), cold, atol=1e-12)
    mlp = TabularExplainer.from_bundle(tab_bundles[1])
    mlp.warm_up()  # not logit-additive: no table to build
    assert "table" not in mlp._cache


def test_tabular_frame_input_and_bad_shapes(tab_bundles):
    from medviz.explain import TabularExplainer

    bundle, x = tab_bundles[0], tab_bundles[2]
    ex = TabularExplainer.from_bundle(bundle)
    frame = pd.DataFrame(x[:3], columns=["age", "glucose", "bmi", "bp"])[["bp", "bmi", "glucose", "age"]]
    np.testing.assert_allclose(ex.explain(frame).values, ex.explain(x[:3]).values)
    with pytest.raises(InputError, match="missing feature column"):
        ex.explain(frame.drop(columns=["bmi"]))
    with pytest.raises(InputError, match="4 feature values"):
        ex.explain(np.ones((2, 3)))


def test_top_reasons_tabular(tab_bundles):
    from medviz.explain import TabularExplainer, top_reasons_tabular

    ex = TabularExplainer.from_bundle(tab_bundles[0])
    exp = ex.explain(tab_bundles[2][:4])
    reasons = top_reasons_tabular(exp, ex.specs)
    assert len(reasons) == 4
    parts = reasons[0].split("; ")
    assert len(parts) == 3
    units = {"age": "years", "glucose": "mg/dL", "bmi": "kg/m²", "bp": "mmHg"}
    for p in parts:
        name = p.split(" = ")[0]
        assert units[name] in p and p.rsplit("(", 1)[1][0] in "+-"
    j = int(np.argmax(np.abs(exp.values[0])))
    assert parts[0].startswith(ex.feature_names[j] + " = ")


def test_shapley_weights_give_efficiency():
    from medviz.explain import shapley_weight_matrix

    masks, w = shapley_weight_matrix(5)
    v = np.random.default_rng(0).normal(size=(3, 32))
    phi = v @ w
    full = masks.all(axis=1).argmax()
    np.testing.assert_allclose(phi.sum(axis=1), v[:, full] - v[:, 0])
    with pytest.raises(InputError):
        shapley_weight_matrix(20)
