"""Tiny models "trained outside medviz" for the import tests: the seed article's recipe (Keras
Tokenizer -> pad_sequences -> Embedding -> LSTM -> Dense), a raw-string model and a tabular one.
Each is built once per test session (a few seconds) and cached by its arguments."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

TEXT_ROWS = {
    "flu": ["fever", "cough", "chills", "aches", "sore throat", "high temperature"],
    "migraine": ["headache", "nausea", "light hurts", "throbbing head", "pounding pain", "flashing lights"],
    "rash": ["itchy skin", "red rash", "blisters", "red bumps", "peeling skin", "itchy patches"],
}
FILLER = ["i have", "with", "and", "since yesterday", "for three days", "really bad", "also"]
SEQ_LEN = 12
_CACHE: dict[tuple, object] = {}
_DIR = Path(tempfile.mkdtemp(prefix="medviz-import-models-"))


def labelled_text(binary: bool, per_class: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for label, words in TEXT_ROWS.items():
        for _ in range(per_class):
            parts = list(rng.choice(words, 2, replace=False)) + list(rng.choice(FILLER, 2, replace=False))
            rng.shuffle(parts)
            text = " ".join(parts).capitalize() + rng.choice([".", "!", ", thanks", ""])
            rows.append({"note": text, "label": ("yes" if label == "flu" else "no") if binary else label})
    return pd.DataFrame(rows)


def _fit(model, x, y, binary: bool):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(0.02),
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=25, batch_size=32, verbose=0, shuffle=False)


def build_id_model(tmp_path, data: pd.DataFrame, *, fmt: str, binary: bool, padding: str) -> tuple[Path, Path]:
    """Tokenizer(num_words=50, oov_token) -> pad_sequences(12) -> Embedding -> LSTM(8) -> Dense; saved as
    ``my_model.<fmt>`` with ``tokenizer.json`` beside it."""
    key = ("ids", fmt, binary, padding)
    if key not in _CACHE:
        import keras
        from keras_preprocessing.text import Tokenizer

        keras.utils.set_random_seed(7)
        tok = Tokenizer(num_words=50, oov_token="<OOV>")
        tok.fit_on_texts(data["note"])
        x = keras.utils.pad_sequences(tok.texts_to_sequences(data["note"]), maxlen=SEQ_LEN, padding=padding, truncating=padding)
        labels = sorted(data["label"].unique())
        y = (data["label"] == "yes").to_numpy().astype("float32") if binary else data["label"].map(labels.index).to_numpy()
        model = keras.Sequential([
            keras.Input(shape=(SEQ_LEN,)),
            keras.layers.Embedding(50, 8),
            keras.layers.LSTM(8),
            keras.layers.Dense(1, activation="sigmoid") if binary else keras.layers.Dense(len(labels), activation="softmax"),
        ])
        _fit(model, x, y, binary)
        d = _DIR / "-".join(map(str, key))
        d.mkdir()
        model.save(d / f"my_model.{fmt}")
        (d / "tokenizer.json").write_text(tok.to_json(), encoding="utf-8")
        _CACHE[key] = (d / f"my_model.{fmt}", d / "tokenizer.json")
    return _CACHE[key]


def build_string_model(tmp_path, data: pd.DataFrame) -> Path:
    """strings -> TextVectorization (Keras' default standardisation) -> Embedding -> mean -> softmax."""
    key = ("strings",)
    if key not in _CACHE:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(7)
        vec = keras.layers.TextVectorization(max_tokens=60, output_sequence_length=SEQ_LEN)
        vec.adapt(data["note"].tolist())
        labels = sorted(data["label"].unique())
        inp = keras.Input(shape=(), dtype="string")
        h = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(60, 8, mask_zero=True)(vec(inp)))
        model = keras.Model(inp, keras.layers.Dense(len(labels), activation="softmax")(h))
        _fit(model, tf.constant(data["note"].tolist()), data["label"].map(labels.index).to_numpy(), False)
        path = _DIR / "raw_strings.keras"
        model.save(path)
        _CACHE[key] = path
    return _CACHE[key]


def labelled_tabular(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    glu = rng.normal(120, 30, n).round(0)
    bmi = rng.normal(32, 6, n).round(1)
    age = rng.integers(21, 80, n)
    z = 0.06 * (glu - 120) + 0.05 * (bmi - 32) + 0.02 * (age - 45)
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    return pd.DataFrame({"glu": glu, "bmi": bmi, "age": age, "outcome": np.where(y, "Yes", "No")})


def build_tabular_model(tmp_path, data: pd.DataFrame) -> Path:
    """(glu, bmi, age) -> Normalization -> Dense(8, relu) -> Dense(1, sigmoid), saved as .keras."""
    key = ("tabular",)
    if key not in _CACHE:
        import keras

        keras.utils.set_random_seed(7)
        x = data[["glu", "bmi", "age"]].to_numpy("float32")
        norm = keras.layers.Normalization()
        norm.adapt(x)
        model = keras.Sequential([keras.Input(shape=(3,)), norm, keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid")])
        _fit(model, x, (data["outcome"] == "Yes").to_numpy().astype("float32"), True)
        path = _DIR / "risk.keras"
        model.save(path)
        _CACHE[key] = path
    return _CACHE[key]
