"""Shared fixtures: tiny models built in tmp_path, never the shared training data."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]

TINY_TEXT = {
    "flu": [
        "fever and cough with chills",
        "high fever body aches and a cough",
        "I have a fever and a dry cough",
        "chills fever sore throat cough",
        "coughing with fever for three days",
        "fever cough tired and achy",
    ],
    "migraine": [
        "throbbing headache with nausea",
        "bad headache and light hurts my eyes",
        "pounding head pain on one side",
        "headache with flashing lights and nausea",
        "my head hurts and light bothers me",
        "severe headache and vomiting",
    ],
    "rash": [
        "itchy red rash on my arms",
        "red bumps on my skin that itch",
        "skin rash with blisters",
        "itchy patches of skin",
        "rash spreading on my legs",
        "red itchy skin and peeling",
    ],
}


def tiny_text_frame() -> pd.DataFrame:
    rows = [{"text": t, "label": lab} for lab, texts in TINY_TEXT.items() for t in texts]
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def tiny_text_bundle(tmp_path_factory) -> Path:
    """A 3-class text bundle trained for a few epochs on 18 sentences (seconds, deterministic)."""
    from medviz.text.model import TextModelConfig
    from medviz.text.train import TextTrainingSpec, train_text

    out = tmp_path_factory.mktemp("bundles") / "tiny-text"
    df = tiny_text_frame()
    spec = TextTrainingSpec(
        name="tiny-text",
        text_column="text",
        label_column="label",
        seed=1,
        epochs=15,
        patience=15,
        val_fraction=0.34,
        config=TextModelConfig(max_tokens=200, sequence_length=12, embed_dim=8, rnn_units=8, attention_units=8),
        provenance={"data_source": "synthetic sentences written for the tests"},
    )
    return train_text(spec, df, out, test_df=df)
