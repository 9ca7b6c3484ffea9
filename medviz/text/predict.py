"""Fast inference for text bundles: one compiled TF function, reused for single cases and batches."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from medviz.bundle import ModelBundle
from medviz.errors import UnsupportedBundleError
from medviz.text.layers import TOKEN_PATTERN
from medviz.text.model import VECTORIZER, sequence_length, vocabulary

_TOKEN_RE = re.compile(TOKEN_PATTERN)
OOV_TOKEN = "[UNK]"


@dataclass(frozen=True)
class TextPrediction:
    """Model outputs for a batch of texts (arrays share the row order of the input)."""

    probabilities: np.ndarray  # (N, C) calibrated
    attention: np.ndarray  # (N, L), sums to 1 over real tokens
    logits: np.ndarray  # (N, C) temperature-scaled


@dataclass(frozen=True)
class Token:
    text: str  # as typed
    start: int  # character span in the original text
    end: int
    normalized: str
    known: bool
    position: int | None  # index into the model's sequence, None if beyond the truncation


@dataclass(frozen=True)
class TextPredictor:
    """Wraps a text bundle's model in a compiled function with a fixed string signature.

    Calling the Keras model eagerly costs ~100 ms of Python overhead per call and ``model.predict``
    adds more; the traced function runs the same graph in a few ms.
    """

    bundle: ModelBundle
    _fn: object = field(repr=False)
    vocab: frozenset = field(repr=False)
    seq_len: int = 64

    @classmethod
    def from_bundle(cls, bundle: ModelBundle) -> "TextPredictor":
        if not bundle.is_text:
            raise UnsupportedBundleError(f"bundle '{bundle.name}' is a {bundle.task} model, not a text model")
        import tensorflow as tf

        model = bundle.model

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], reduce_retracing=True)
        def fn(x):
            probs, att, logits = model(x, training=False)
            return probs, att, logits

        vocab = vocabulary(model)
        predictor = cls(bundle=bundle, _fn=fn, vocab=frozenset(vocab[2:]), seq_len=sequence_length(model))
        predictor.predict([""])  # trace once
        return predictor

    def predict(self, texts: list[str], batch_size: int = 4096) -> TextPrediction:
        import tensorflow as tf

        probs, atts, logits = [], [], []
        for i in range(0, max(len(texts), 1), batch_size):
            batch = texts[i : i + batch_size]
            if not batch:
                break
            p, a, lg = self._fn(tf.constant(batch, dtype=tf.string))
            probs.append(p.numpy())
            atts.append(a.numpy())
            logits.append(lg.numpy())
        if not probs:
            c = len(self.bundle.labels)
            return TextPrediction(np.zeros((0, c)), np.zeros((0, self.seq_len)), np.zeros((0, c)))
        return TextPrediction(np.concatenate(probs), np.concatenate(atts), np.concatenate(logits))

    def tokens(self, text: str) -> list[Token]:
        """The tokens the model reads, with their spans in the typed text (same rule as the model)."""
        out = []
        for i, m in enumerate(_TOKEN_RE.finditer(text)):
            norm = m.group().lower()
            out.append(
                Token(
                    text=m.group(),
                    start=m.start(),
                    end=m.end(),
                    normalized=norm,
                    known=norm in self.vocab,
                    position=i if i < self.seq_len else None,
                )
            )
        return out


def vectorizer_ids(bundle: ModelBundle, texts: list[str]) -> np.ndarray:
    """Token ids exactly as the model sees them (used by tests to check the Python tokenizer)."""
    import tensorflow as tf

    return bundle.model.get_layer(VECTORIZER)(tf.constant(texts)).numpy()


def ranked(probabilities: np.ndarray, labels: list[str]) -> "pd.DataFrame":
    """One case's probabilities as a table sorted high to low, with rank 1..C."""
    import pandas as pd

    order = np.argsort(-probabilities, kind="stable")
    return pd.DataFrame(
        {"rank": np.arange(1, len(order) + 1), "label": [labels[i] for i in order], "probability": probabilities[order]}
    )


def unknown_shares(model, texts: list[str]) -> np.ndarray:
    """Share of each text's tokens (as the model splits them) outside the model's vocabulary; 1 if none."""
    vocab = frozenset(vocabulary(model)[2:])
    out = np.ones(len(texts))
    for i, t in enumerate(texts):
        toks = [m.group().lower() for m in _TOKEN_RE.finditer(t)]
        if toks:
            out[i] = sum(tok not in vocab for tok in toks) / len(toks)
    return out
