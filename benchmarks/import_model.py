"""Time `python -m medviz import` of the seed article's model on a 10,000-row labelled file.

Builds, outside the timing, a model the way the seed article does (Keras 2 Tokenizer with 10,000 words
and an OOV token, pad_sequences to 100, Embedding(10000, 64) -> LSTM(64) -> Dense(1, sigmoid), saved
as .h5) on generated symptom sentences, and writes a 10,000-row labelled CSV. Then times, median of
``--repeats`` runs each:

* medviz: ``import_text_model`` end to end (read the model safely, wrap the tokenizer, one pass over
  all rows, Platt calibration, conformal and out-of-scope thresholds, test metrics, bundle written);
* baseline: the least any import must do — the same tokenizer in Python (keras_preprocessing's
  ``texts_to_sequences`` + ``pad_sequences``) and one ``model.predict`` over the 10,000 rows.

    python benchmarks/import_model.py [--rows 10000] [--repeats 3]

Target (issue 13): import of a 10,000-row labelled file <= 60 s on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SYMPTOMS = {
    "yes": ["fever", "cough", "chills", "sore throat", "runny nose", "body aches", "high temperature", "shivering"],
    "no": ["headache", "itchy rash", "back pain", "heartburn", "joint pain", "blurred vision", "dizziness", "nausea"],
}
FILLER = ["i have had", "for two days", "since last week", "and also", "really bad", "on and off", "my doctor said",
          "it gets worse at night", "with some", "no other problems"]


def generate(n: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    labels = rng.choice(["yes", "no"], n, p=[0.4, 0.6])
    texts = []
    for lab in labels:
        words = list(rng.choice(SYMPTOMS[lab], 2, replace=False)) + list(rng.choice(SYMPTOMS["no" if lab == "yes" else "yes"], 1))
        words += list(rng.choice(FILLER, 3, replace=False))
        rng.shuffle(words)
        texts.append(" ".join(words).capitalize() + ".")
    return pd.DataFrame({"text": texts, "infection": labels})


def build_model(folder: Path, train) -> tuple[Path, Path]:
    import keras
    from keras_preprocessing.text import Tokenizer

    keras.utils.set_random_seed(0)
    tok = Tokenizer(num_words=10000, oov_token="<OOV>")
    tok.fit_on_texts(train["text"])
    x = keras.utils.pad_sequences(tok.texts_to_sequences(train["text"]), maxlen=100)
    model = keras.Sequential([keras.Input(shape=(100,)), keras.layers.Embedding(10000, 64), keras.layers.LSTM(64),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, (train["infection"] == "yes").to_numpy().astype("float32"), epochs=1, batch_size=64, verbose=0)
    model.save(folder / "my_model.h5")
    (folder / "tokenizer.json").write_text(tok.to_json(), encoding="utf-8")
    return folder / "my_model.h5", folder / "tokenizer.json"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import keras
    from keras_preprocessing.text import tokenizer_from_json

    from medviz.importer.core import ImportOptions
    from medviz.importer.text import import_text_model
    from medviz.io import read_labelled

    work = Path(tempfile.mkdtemp(prefix="medviz-import-bench-"))
    model_file, tok_file = build_model(work, generate(2000, seed=1))
    labelled = work / "labelled.csv"
    generate(args.rows, seed=2).to_csv(labelled, index=False)
    print(f"model: {model_file.name} (Embedding 10000x64 -> LSTM(64) -> Dense(1, sigmoid)); labelled file: {args.rows:,} rows")

    medviz_s, base_s = [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        data = read_labelled(labelled, ["text", "infection"])
        out = import_text_model(model_file, data, work / f"bundle-{r}", ImportOptions(name="bench", label_column="infection"),
                                text_column="text", tokenizer_file=tok_file, positive="yes", data_path=labelled)
        medviz_s.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        data = read_labelled(labelled, ["text", "infection"])
        src = keras.saving.load_model(model_file, compile=False)
        tok = tokenizer_from_json(tok_file.read_text(encoding="utf-8"))
        ids = keras.utils.pad_sequences(tok.texts_to_sequences(data["text"].tolist()), maxlen=100)
        src.predict(ids, batch_size=1024, verbose=0)
        base_s.append(time.perf_counter() - t0)
        print(f"run {r + 1}: medviz import {medviz_s[-1]:.1f} s, baseline {base_s[-1]:.1f} s")
    m, b = statistics.median(medviz_s), statistics.median(base_s)
    print(f"median of {args.repeats}: medviz import {m:.1f} s (target <= 60 s), baseline tokenise + predict {b:.1f} s, "
          f"ratio {m / b:.2f}x; bundle: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
