"""Train a text bundle from any CSV/JSONL with a text column and a label column (binary or multiclass)."""
from __future__ import annotations

import logging
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.bundle import TASK_TEXT, save_bundle
from medviz.errors import InputError
from medviz.text.model import TEMPERATURE, TextModelConfig, build_text_model

log = logging.getLogger(__name__)

NEAR_DUPLICATE_COSINE = 0.85


@dataclass(frozen=True)
class TextTrainingSpec:
    name: str
    text_column: str
    label_column: str
    version: str = "1.0.0"
    title: str = ""
    seed: int = 42
    val_fraction: float = 0.15
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 2e-3
    patience: int = 8
    config: TextModelConfig = field(default_factory=TextModelConfig)
    provenance: dict[str, Any] = field(default_factory=dict)
    intended_use: str = (
        "Decision support for clinicians: suggests a ranked differential for a short free-text case description. "
        "Not a diagnosis, not for standalone or time-critical use."
    )
    out_of_scope_uses: tuple[str, ...] = (
        "Conditions outside the trained label set",
        "Time-critical or emergency triage",
        "Use without clinician review",
        "Children, pregnancy or other populations not represented in the training text",
    )


def clean_labelled_text(df: pd.DataFrame, text_col: str, label_col: str) -> pd.DataFrame:
    for col in (text_col, label_col):
        if col not in df.columns:
            raise InputError(f"missing column '{col}'; the data has: {', '.join(map(str, df.columns))}")
    out = pd.DataFrame({"text": df[text_col].astype(str).str.strip(), "label": df[label_col].astype(str).str.strip()})
    bad = (out["text"] == "") | (out["label"] == "") | df[text_col].isna().to_numpy() | df[label_col].isna().to_numpy()
    if bad.any():
        log.warning("dropping %d row(s) with an empty text or label", int(bad.sum()))
    out = out[~bad].reset_index(drop=True)
    if out["label"].nunique() < 2:
        raise InputError(f"column '{label_col}' needs at least 2 distinct labels, found {out['label'].nunique()}")
    return out


def near_duplicate_mask(test_texts: list[str], train_texts: list[str], threshold: float = NEAR_DUPLICATE_COSINE) -> np.ndarray:
    """True for test texts whose word TF-IDF cosine similarity to some training text is >= threshold."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    vec = TfidfVectorizer().fit(list(train_texts) + list(test_texts))
    sim = cosine_similarity(vec.transform(test_texts), vec.transform(train_texts))
    return sim.max(axis=1) >= threshold


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising validation NLL (Guo et al. 2017), searched on log scale."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def nll(log_t: float) -> float:
        lp = log_softmax(logits / np.exp(log_t), axis=1)
        return float(-lp[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def _length_quantiles(texts: pd.Series) -> dict[str, float]:
    """Token-count distribution of the training texts (for shift checks on uploaded cohorts)."""
    from medviz.text.layers import TOKEN_PATTERN

    n = texts.str.count(TOKEN_PATTERN).to_numpy()
    return {f"p{q:02d}": float(np.percentile(n, q)) for q in (1, 5, 25, 50, 75, 95, 99)} | {"mean": float(n.mean())}


def _split(df: pd.DataFrame, frac: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    counts = df["label"].value_counts()
    stratify = df["label"] if counts.min() >= 2 else None
    tr, va = train_test_split(df, test_size=frac, random_state=seed, stratify=stratify)
    return tr.reset_index(drop=True), va.reset_index(drop=True)


def train_text(
    spec: TextTrainingSpec,
    train_df: pd.DataFrame,
    out_dir: Path | str,
    test_df: pd.DataFrame | None = None,
) -> Path:
    import keras
    import tensorflow as tf

    data = clean_labelled_text(train_df, spec.text_column, spec.label_column)
    labels = sorted(data["label"].unique())
    index = {lab: i for i, lab in enumerate(labels)}
    tr, va = _split(data, spec.val_fraction, spec.seed)

    keras.utils.set_random_seed(spec.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_text_model(tr["text"].tolist(), len(labels), spec.config)
    raw_logits = model.get_layer("dense_logits").output
    trainer = keras.Model(model.input, raw_logits)
    trainer.compile(
        optimizer=keras.optimizers.Adam(spec.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x_tr = tf.constant(tr["text"].tolist())
    y_tr = tr["label"].map(index).to_numpy()
    x_va = tf.constant(va["text"].tolist())
    y_va = va["label"].map(index).to_numpy()
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=spec.patience, restore_best_weights=True)
    hist = trainer.fit(
        x_tr, y_tr, validation_data=(x_va, y_va), epochs=spec.epochs, batch_size=spec.batch_size,
        callbacks=[stop], verbose=0, shuffle=True,
    )
    epochs_run = len(hist.history["loss"])

    val_logits = trainer.predict(x_va, verbose=0)
    temperature = fit_temperature(val_logits, y_va)
    model.get_layer(TEMPERATURE).set_temperature(temperature)
    val_probs = model.predict(x_va, verbose=0)[0]

    metrics: dict[str, Any] = {
        "validation": {
            "n": int(len(va)),
            **M.multiclass_summary(y_va, val_probs),
        }
    }
    test_predictions = None
    if test_df is not None:
        te = clean_labelled_text(test_df, spec.text_column, spec.label_column)
        unknown = sorted(set(te["label"]) - set(labels))
        if unknown:
            raise InputError(f"test labels not seen in training: {', '.join(unknown)}")
        probs = model.predict(tf.constant(te["text"].tolist()), verbose=0)[0]
        y_te = te["label"].map(index).to_numpy()
        dup = near_duplicate_mask(te["text"].tolist(), data["text"].tolist())
        metrics["test"] = {"n": int(len(te)), **M.multiclass_summary(y_te, probs)}
        metrics["test_deduplicated"] = {
            "n": int((~dup).sum()),
            "near_duplicates_removed": int(dup.sum()),
            "rule": f"word TF-IDF cosine >= {NEAR_DUPLICATE_COSINE} to any training text",
            **M.multiclass_summary(y_te[~dup], probs[~dup]),
        }
        test_predictions = pd.DataFrame({"y_true": te["label"], "near_duplicate": dup})
        for j, lab in enumerate(labels):
            test_predictions[f"prob_{lab}"] = probs[:, j]

    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = {
        "name": spec.name,
        "version": spec.version,
        "title": spec.title or spec.name,
        "task": TASK_TEXT,
        "labels": labels,
        "inputs": {
            "kind": "text",
            "text_column": spec.text_column,
            "sequence_length": spec.config.sequence_length,
            "tokenizer": "lower-case ASCII; runs of letters and digits are tokens; everything else separates",
        },
        "outputs": {
            "probabilities": "calibrated class probabilities (temperature scaling on the validation split)",
            "attention": "additive attention weights over the tokens read (sum to 1; 0 on padding)",
            "logits": "temperature-scaled logits",
        },
        "architecture": {
            "summary": "TextVectorization -> Embedding -> bidirectional GRU -> additive attention -> dense softmax",
            **asdict(spec.config),
            "parameters": int(model.count_params()),
        },
        "calibration": {"method": "temperature scaling", "temperature": temperature, "fitted_on": "validation split"},
        "training": {
            **spec.provenance,
            "trained_at": now,
            "seed": spec.seed,
            "n_train": int(len(tr)),
            "n_validation": int(len(va)),
            "validation_split": f"stratified {spec.val_fraction:.0%} of the training file (seed {spec.seed})",
            "epochs_run": epochs_run,
            "text_length_tokens": _length_quantiles(tr["text"]),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
        },
        "metrics": metrics,
        "last_validated": now[:10],
        "intended_use": spec.intended_use,
        "out_of_scope_uses": list(spec.out_of_scope_uses),
    }
    return save_bundle(out_dir, model, manifest, test_predictions)
