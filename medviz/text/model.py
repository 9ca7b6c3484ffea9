"""Build the attention-RNN text classifier.

raw string -> TextVectorization (inside the model) -> Embedding(mask_zero) -> BiGRU (all states)
-> AttentionPooling (weights are an output) -> Dense logits -> TemperatureScaling -> softmax.

Outputs, in order: ``probabilities`` (N, C) calibrated, ``attention`` (N, L) summing to 1 over real
tokens and 0 on padding, ``logits`` (N, C) after temperature scaling (for energy-style scores).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import keras

from medviz.layers import TemperatureScaling
from medviz.text.layers import AttentionPooling, standardize_text

VECTORIZER = "vectorizer"
TEMPERATURE = "temperature"
OUTPUT_NAMES = ("probabilities", "attention", "logits")


@dataclass(frozen=True)
class TextModelConfig:
    max_tokens: int = 6000
    sequence_length: int = 64
    embed_dim: int = 64
    rnn_units: int = 48
    attention_units: int = 48
    dropout: float = 0.3


def build_text_model(train_texts: Sequence[str], n_classes: int, config: TextModelConfig) -> keras.Model:
    vectorizer = keras.layers.TextVectorization(
        max_tokens=config.max_tokens,
        standardize=standardize_text,
        split="whitespace",
        output_mode="int",
        output_sequence_length=config.sequence_length,
        name=VECTORIZER,
    )
    vectorizer.adapt(list(train_texts))
    vocab_size = len(vectorizer.get_vocabulary())

    text_in = keras.Input(shape=(), dtype="string", name="text")
    ids = vectorizer(text_in)
    x = keras.layers.Embedding(vocab_size, config.embed_dim, mask_zero=True, name="embedding")(ids)
    x = keras.layers.SpatialDropout1D(config.dropout, name="embedding_dropout")(x)
    states = keras.layers.Bidirectional(
        keras.layers.GRU(config.rnn_units, return_sequences=True), name="bigru"
    )(x)
    context, weights = AttentionPooling(config.attention_units, name="attention_pool")(states)
    h = keras.layers.Dropout(config.dropout, name="dropout")(context)
    raw_logits = keras.layers.Dense(n_classes, name="dense_logits")(h)
    logits = TemperatureScaling(1.0, name=TEMPERATURE)(raw_logits)
    probs = keras.layers.Softmax(name="probabilities")(logits)
    attention = keras.layers.Identity(name="attention")(weights)
    logits_out = keras.layers.Identity(name="logits")(logits)
    return keras.Model(text_in, [probs, attention, logits_out], name="attention_bigru_text_classifier")


def vocabulary(model: keras.Model) -> list[str]:
    return list(model.get_layer(VECTORIZER).get_vocabulary())


def sequence_length(model: keras.Model) -> int:
    return int(model.get_layer(VECTORIZER).get_config()["output_sequence_length"])
