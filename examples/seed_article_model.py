"""Build the seed article's model outside medviz, as a data team would, ready for `python -m medviz import`.

The recipe (Keras 2 style): ``Tokenizer(num_words=10000, oov_token="<OOV>")`` → ``texts_to_sequences``
→ ``pad_sequences(maxlen=100)`` → ``Embedding(10000, 64) → LSTM(64) → Dense(1, sigmoid)`` →
``model.save("my_model.h5")`` and ``tokenizer.to_json()``.

Data anyone has here: symptom_to_diagnosis (Apache-2.0), turned into a binary task — is the diagnosis
an infection (dengue, malaria, typhoid, chicken pox, pneumonia, common cold, impetigo, fungal
infection, urinary tract infection) or not. The model trains on ``train.jsonl``; the held-out
``test.jsonl`` becomes the labelled CSV the import splits into calibration and test parts.

    python examples/seed_article_model.py ../shared/data/symptom_to_diagnosis --out /tmp/seed
    python -m medviz import /tmp/seed/my_model.h5 --task text --data /tmp/seed/labelled.csv \\
        --label-column infection --text-column text --tokenizer /tmp/seed/tokenizer.json \\
        --sequence-length 100 --positive yes --name seed-infection --out models/seed-infection

About a minute on 2 cores (5 epochs). The Tokenizer is Keras 2's (the ``keras-preprocessing`` package,
which ``tf.keras.preprocessing.text`` re-exported); Keras 3 has none.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

INFECTIONS = {
    "dengue", "malaria", "typhoid", "chicken pox", "pneumonia", "common cold", "impetigo", "fungal infection",
    "urinary tract infection",
}


def load(path: Path):
    import pandas as pd

    df = pd.read_json(path, lines=True)
    return pd.DataFrame({"text": df["input_text"].astype(str),
                         "infection": df["output_text"].map(lambda d: "yes" if d in INFECTIONS else "no")})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path, help="folder with symptom_to_diagnosis train.jsonl and test.jsonl")
    ap.add_argument("--out", type=Path, required=True, help="folder for my_model.h5, tokenizer.json, labelled.csv")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--format", choices=["h5", "keras"], default="h5")
    args = ap.parse_args(argv)

    import keras
    import numpy as np
    from keras_preprocessing.text import Tokenizer

    keras.utils.set_random_seed(0)
    train, held_out = load(args.data_dir / "train.jsonl"), load(args.data_dir / "test.jsonl")

    tokenizer = Tokenizer(num_words=10000, oov_token="<OOV>")
    tokenizer.fit_on_texts(train["text"])
    sequences = tokenizer.texts_to_sequences(train["text"])
    x = keras.utils.pad_sequences(sequences, maxlen=100)  # padding="pre", truncating="pre" (Keras' defaults)
    y = (train["infection"] == "yes").to_numpy().astype("float32")

    model = keras.Sequential([
        keras.Input(shape=(100,)),
        keras.layers.Embedding(10000, 64),
        keras.layers.LSTM(64),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=args.epochs, batch_size=32, validation_split=0.1, verbose=2)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / f"my_model.{args.format}")
    (args.out / "tokenizer.json").write_text(tokenizer.to_json(), encoding="utf-8")
    held_out.to_csv(args.out / "labelled.csv", index=False)
    acc = float(np.mean((model.predict(keras.utils.pad_sequences(tokenizer.texts_to_sequences(held_out["text"]), maxlen=100),
                                       verbose=0)[:, 0] >= 0.5) == (held_out["infection"] == "yes")))
    print(f"wrote {args.out / f'my_model.{args.format}'}, tokenizer.json and labelled.csv ({len(held_out)} rows); "
          f"held-out accuracy {acc:.1%}")
    print(f"next: python -m medviz import {args.out / f'my_model.{args.format}'} --task text --data {args.out / 'labelled.csv'} "
          f"--label-column infection --text-column text --tokenizer {args.out / 'tokenizer.json'} --sequence-length 100 "
          "--positive yes --name seed-infection --out models/seed-infection")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
