"""Import tiny Keras models built in tmp_path (the seed article's recipe and its variants) and serve
the bundles through the normal loading and scoring paths."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medviz.errors import MedvizError
from medviz.importer import errors as E

keras = pytest.importorskip("keras")
Tokenizer = pytest.importorskip("keras_preprocessing.text").Tokenizer

from tests.importer.models import (  # noqa: E402
    TEXT_ROWS,
    build_id_model,
    build_string_model,
    build_tabular_model,
    labelled_text,
    labelled_tabular,
)


def _opts(name, label="label", **kw):
    from medviz.importer.core import ImportOptions

    return ImportOptions(name=name, label_column=label, imported_by="test-user", **kw)


# ------------------------------------------------------------------------ the Tokenizer layer
@pytest.mark.parametrize("oov", ["<OOV>", None])
@pytest.mark.parametrize("num_words", [None, 8])
@pytest.mark.parametrize("padding,truncating", [("pre", "pre"), ("post", "post"), ("pre", "post"), ("post", "pre")])
def test_tokenizer_layer_equals_texts_to_sequences_and_pad_sequences(oov, num_words, padding, truncating):
    import tensorflow as tf

    from medviz.importer.tokenizer import KerasTokenizerVectorizer, parse_tokenizer_json

    fit = ["Fever and cough, for 3 days!!", "Don't worry: it's fine", "ÉCOLE café naïve", "fever fever chills"]
    probe = fit + ["a b c d e f g h i j", "", "???", "zzz fever\tcough\nchills", "  many   spaces  here "]
    tok = Tokenizer(num_words=num_words, oov_token=oov)
    tok.fit_on_texts(fit)
    cfg = parse_tokenizer_json(tok.to_json(), sequence_length=5, padding=padding, truncating=truncating)
    layer = KerasTokenizerVectorizer.from_tokenizer(cfg)
    got = layer(tf.constant(probe)).numpy()
    want = keras.utils.pad_sequences(tok.texts_to_sequences(probe), maxlen=5, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(got, want)


def test_tokenizer_json_errors_name_the_field():
    from medviz.importer.tokenizer import parse_tokenizer_json

    with pytest.raises(E.TokenizerMismatchError, match="not valid JSON"):
        parse_tokenizer_json("{nope")
    with pytest.raises(E.TokenizerMismatchError, match="word_index"):
        parse_tokenizer_json(json.dumps({"class_name": "Tokenizer", "config": {"word_index": "{}"}}))
    with pytest.raises(E.TokenizerMismatchError, match="char_level"):
        parse_tokenizer_json(json.dumps({"class_name": "Tokenizer", "config": {"word_index": {"a": 1}, "char_level": True}}))


# ------------------------------------------------------------------------ text imports
def _score(bundle, texts):
    from medviz.scoring import make_scorer, score_frame

    scorer = make_scorer(bundle, text_column="note")
    return score_frame(scorer, pd.DataFrame({"note": texts}))


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_seed_article_binary_lstm_with_tokenizer(tmp_path, fmt):
    from medviz.bundle import load_bundle
    from medviz.importer.text import import_text_model

    data = labelled_text(binary=True)
    model_file, tok_file = build_id_model(tmp_path, data, fmt=fmt, binary=True, padding="pre")
    out = import_text_model(model_file, data, tmp_path / "b", _opts(f"seed-{fmt}"), text_column="note",
                            tokenizer_file=tok_file, positive="yes", data_path=None)
    bundle = load_bundle(out)
    m = bundle.manifest
    assert bundle.labels == ["no", "yes"] and m["task"] == "text_classification"
    assert m["import"]["source_sha256"] and m["import"]["imported_by"] == "test-user"
    assert m["import"]["source_format"].startswith("legacy" if fmt == "h5" else "Keras 3")
    assert m["calibration"]["method"].startswith("Platt") and m["capabilities"]["attention"] is False
    assert m["metrics"]["test"]["n"] + m["metrics"]["calibration"]["n"] == len(data)
    assert m["metrics"]["test"]["top1_accuracy"] > 0.8  # the tiny model learned the words
    # the wrapped model reproduces the original model's probability (before calibration) exactly
    import tensorflow as tf

    src = keras.saving.load_model(model_file, compile=False)
    tok = Tokenizer()
    tok = __import__("keras_preprocessing.text", fromlist=["tokenizer_from_json"]).tokenizer_from_json(tok_file.read_text())
    ids = keras.utils.pad_sequences(tok.texts_to_sequences(["fever and cough", "itchy skin"]), maxlen=12)
    p_src = src(ids.astype("float32")).numpy()[:, 0]
    slope, icpt = m["calibration"]["slope"], m["calibration"]["intercept"]
    z = np.log(p_src / (1 - p_src))
    p_want = 1 / (1 + np.exp(-(slope * z + icpt)))
    p_got = bundle.model(tf.constant(["fever and cough", "itchy skin"]))[0].numpy()[:, 1]
    np.testing.assert_allclose(p_got, p_want, atol=1e-5)
    scored = _score(bundle, ["fever and cough", "itchy red skin", "zzz"])
    assert list(scored["prediction"][:2]) == ["yes", "no"]
    assert np.allclose(scored[["prob_no", "prob_yes"]].astype(float).sum(axis=1), 1, atol=1e-5)
    assert "no known words" in scored["warnings"].iloc[2]  # the unknown-word share by the Tokenizer's rule


@pytest.mark.parametrize("fmt", ["h5", "keras"])
def test_multiclass_token_id_model_post_padding(tmp_path, fmt):
    from medviz.bundle import load_bundle
    from medviz.importer.text import import_text_model

    data = labelled_text(binary=False)
    model_file, tok_file = build_id_model(tmp_path, data, fmt=fmt, binary=False, padding="post")
    out = import_text_model(model_file, data, tmp_path / "b", _opts("multi"), text_column="note",
                            tokenizer_file=tok_file, padding="post", truncating="post")
    bundle = load_bundle(out)
    assert bundle.labels == sorted(TEXT_ROWS) and bundle.manifest["calibration"]["method"] == "temperature scaling"
    assert bundle.manifest["out_of_scope"]["method"] == "energy"
    scored = _score(bundle, ["throbbing headache and nausea", "fever with cough"])
    assert list(scored["prediction"]) == ["migraine", "flu"]
    assert scored["prediction_set"].iloc[0]


def test_raw_string_keras_model(tmp_path):
    from medviz.bundle import load_bundle
    from medviz.importer.text import import_text_model

    data = labelled_text(binary=False)
    model_file = build_string_model(tmp_path, data)
    out = import_text_model(model_file, data, tmp_path / "b", _opts("raw"), text_column="note")
    bundle = load_bundle(out)
    assert bundle.manifest["inputs"]["input_kind"].startswith("raw strings")
    scored = _score(bundle, ["itchy red rash", "pounding headache"])
    assert list(scored["prediction"]) == ["rash", "migraine"]


# ------------------------------------------------------------------------ tabular import
def test_tabular_import_scores_validates_and_explains(tmp_path):
    from medviz.bundle import load_bundle
    from medviz.importer.tabular import import_tabular_model
    from medviz.scoring import make_scorer, score_frame

    data = labelled_tabular()
    model_file = build_tabular_model(tmp_path, data)
    spec = {"features": [{"name": "glu", "label": "Glucose", "unit": "mg/dL", "min": 0, "max": 1500},
                         {"name": "bmi", "label": "Body mass index", "unit": "kg/m²"}, {"name": "age", "unit": "years"}]}
    out = import_tabular_model(model_file, data, tmp_path / "b", _opts("tab", label="outcome"), positive="Yes",
                               feature_spec=spec)
    bundle = load_bundle(out)
    assert bundle.task == "tabular_binary" and bundle.labels == ["No", "Yes"]
    assert [f["name"] for f in bundle.manifest["inputs"]["features"]] == ["glu", "bmi", "age"]
    assert bundle.manifest["metrics"]["test"]["auc"] > 0.8
    rows = pd.DataFrame({"glu": ["190", "", "-5"], "bmi": ["40", "25", "30"], "age": ["60", "30", "40"]})
    scored = score_frame(make_scorer(bundle), rows)
    assert float(scored["risk"].iloc[0]) > float(scored["risk"].iloc[1])
    assert "imputed:glu" in scored["flags"].iloc[1] and scored["error"].iloc[2]  # blank imputed; -5 impossible
    assert "glu" in scored["top_reasons"].iloc[0]


# ------------------------------------------------------------------------ refusals
def test_refusals_are_typed_one_line_errors(tmp_path):
    from medviz.importer.tabular import import_tabular_model
    from medviz.importer.text import import_text_model

    data = labelled_text(binary=True)
    model_file, tok_file = build_id_model(tmp_path, data, fmt="keras", binary=True, padding="pre")
    not_model = tmp_path / "notes.h5"
    not_model.write_text("this is a text file")
    with pytest.raises(E.NotAKerasModelError, match="not a Keras model"):
        import_text_model(not_model, data, tmp_path / "x", _opts("x"), text_column="note", tokenizer_file=tok_file)
    with pytest.raises(E.OutputWidthError, match="one output unit"):
        import_text_model(model_file, labelled_text(binary=False), tmp_path / "x", _opts("x"), text_column="note",
                          tokenizer_file=tok_file)
    one = data.assign(label="yes")
    with pytest.raises(E.LabelError, match="1 distinct value"):
        import_text_model(model_file, one, tmp_path / "x", _opts("x"), text_column="note", tokenizer_file=tok_file)
    with pytest.raises(E.TooFewRowsError, match=r"at least \d+ are needed"):
        import_text_model(model_file, data.iloc[::5], tmp_path / "x", _opts("x"), text_column="note", tokenizer_file=tok_file)
    big = Tokenizer(num_words=500, oov_token="<OOV>")
    big.fit_on_texts([" ".join(f"w{i}" for i in range(600))])
    big_file = tmp_path / "big.json"
    big_file.write_text(big.to_json())
    with pytest.raises(E.TokenizerMismatchError, match="Embedding takes ids below"):
        import_text_model(model_file, data, tmp_path / "x", _opts("x"), text_column="note", tokenizer_file=big_file)
    with pytest.raises(E.TokenizerMismatchError, match="--tokenizer"):
        import_text_model(model_file, data, tmp_path / "x", _opts("x"), text_column="note")
    with pytest.raises(E.OutputWidthError, match="takes 3 features"):
        import_tabular_model(build_tabular_model(tmp_path, labelled_tabular()), labelled_tabular().assign(extra=1.0),
                             tmp_path / "x", _opts("x", label="outcome"), positive="Yes")
    assert not (tmp_path / "x").exists()
    for cls in (E.NotAKerasModelError, E.UnsafeModelError, E.OutputWidthError, E.TokenizerMismatchError, E.LabelError,
                E.TooFewRowsError):
        assert issubclass(cls, MedvizError)


def test_lambda_layer_is_refused_before_loading(tmp_path):
    from medviz.importer.keras_file import load_keras_model, read_keras_file

    inp = keras.Input(shape=(3,))
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Lambda(lambda t: t * 2.0)(inp))
    for fmt in ("keras", "h5"):
        path = tmp_path / f"lam.{fmt}"
        keras.Model(inp, out).save(path)
        with pytest.raises(E.UnsafeModelError, match="Lambda layer.*refuses"):
            load_keras_model(read_keras_file(path))


def test_swapped_label_order_is_caught(tmp_path):
    from medviz.importer.text import import_text_model

    data = labelled_text(binary=False)
    model_file, tok_file = build_id_model(tmp_path, data, fmt="keras", binary=False, padding="pre")
    wrong = ["rash", "flu", "migraine"]
    with pytest.raises(E.LabelError, match="give --labels"):
        import_text_model(model_file, data, tmp_path / "x", _opts("x"), text_column="note", tokenizer_file=tok_file,
                          labels=wrong)


# ------------------------------------------------------------------------ the command
def test_cli_import_one_line_errors_and_a_tabular_import(tmp_path, capsys):
    from medviz.bundle import read_manifest
    from medviz.cli import main

    data = labelled_tabular()
    csv = tmp_path / "labelled.csv"
    data.to_csv(csv, index=False)
    not_model = tmp_path / "model.keras"
    not_model.write_bytes(b"not a model at all")
    assert main(["import", str(not_model), "--task", "tabular", "--data", str(csv), "--label-column", "outcome",
                 "--name", "x", "--out", str(tmp_path / "x"), "--yes"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model.keras: not a Keras model file") and "\n" not in err
    model = build_tabular_model(tmp_path, data)
    args = ["import", str(model), "--task", "tabular", "--data", str(csv), "--label-column", "outcome",
            "--positive", "Yes", "--name", "risk", "--out", str(tmp_path / "risk"), "--imported-by", "cli-user"]
    assert main(args) == 1  # inferred features need confirming (stdin is not a terminal under pytest)
    assert "--yes" in capsys.readouterr().err
    assert main(args + ["--yes"]) == 0
    out = capsys.readouterr().out
    assert "glu" in out and "imported risk.keras" in out and "AUC" in out
    assert read_manifest(tmp_path / "risk")["import"]["imported_by"] == "cli-user"
