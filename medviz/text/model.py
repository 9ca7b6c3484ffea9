"""Build the attention-RNN text classifier.

raw string -> TextVectorization (inside the model) -> Embedding(mask_zero) -> BiGRU (all states)
-> AttentionPooling (weights are an output) -> Dense logits -> TemperatureScaling -> softmax.

With ``members > 1`` the graph holds that many independently initialised branches (embedding ->
BiGRU -> attention -> dense) behind the one shared vectorizer: a seed ensemble inside one saved
model. Their logits are averaged before temperature scaling and their attention weights are
averaged (still summing to 1 over the real tokens, 0 on padding). With ``residual`` the attention
pools over [embedding; BiGRU state] per token, which lets a small data set use word identity
directly while the recurrent state adds context.

With ``wide`` a linear bag-of-words head over the same token ids is trained next to the recurrent
head(s) and the two logit vectors are averaged (a two-model ensemble in one graph).

Outputs, in order: ``probabilities`` (N, C) calibrated, ``attention`` (N, L) summing to 1 over real
tokens and 0 on padding, ``logits`` (N, C) after temperature scaling, for energy-style out-of-scope
scores (with ``wide``: the recurrent head's logits only).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import keras

from medviz.layers import TemperatureScaling
from medviz.text.layers import TOKENIZERS, AttentionPooling, BagOfWordsLogits, WordDropout
from medviz.text.vocab import fit_vocabulary

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
    members: int = 1
    residual: bool = False
    word_dropout: float = 0.0
    wide: bool = False
    wide_l2: float = 0.0
    wide_scale: float = 1.0
    # A word enters the vocabulary only if it is in at least this many training notes, after
    # identifiers are stripped (medviz.text.vocab): keeps names and MRNs of single patients out.
    min_note_count: int = 3
    # "ascii": runs of ASCII letters/digits (English); "han": also each Han character a token (Chinese)
    tokenizer: str = "ascii"


def build_text_model(train_texts: Sequence[str], n_classes: int, config: TextModelConfig) -> keras.Model:
    vectorizer = keras.layers.TextVectorization(
        max_tokens=config.max_tokens,
        standardize=TOKENIZERS[config.tokenizer],
        split="whitespace",
        output_mode="int",
        output_sequence_length=config.sequence_length,
        name=VECTORIZER,
    )
    fit_vocabulary(vectorizer, list(train_texts), config.min_note_count)
    vocab_size = len(vectorizer.get_vocabulary())

    text_in = keras.Input(shape=(), dtype="string", name="text")
    ids = vectorizer(text_in)
    member_logits, member_weights = [], []
    wide_logits = None
    if config.wide:
        # Wide path: one learned class-evidence vector per word, summed over the words read (a linear
        # bag-of-words classifier inside the same graph, as in wide-and-deep models). Trained as its
        # own head next to the attention-RNN; the two heads' logits are averaged.
        wids = WordDropout(config.word_dropout, seed=999, name="word_dropout_wide")(ids) if config.word_dropout > 0 else ids
        wide_logits = BagOfWordsLogits(
            n_classes, vocab_size, l2=config.wide_l2, scale=config.wide_scale, name="wide_logits"
        )(wids)
    rnn_name = "rnn_logits" if config.wide else "dense_logits"
    for m in range(max(1, config.members)):
        sfx = f"_{m}" if config.members > 1 else ""
        mids = WordDropout(config.word_dropout, seed=1000 + m, name=f"word_dropout{sfx}")(ids) if config.word_dropout > 0 else ids
        emb = keras.layers.Embedding(vocab_size, config.embed_dim, mask_zero=True, name=f"embedding{sfx}")(mids)
        x = keras.layers.SpatialDropout1D(config.dropout, name=f"embedding_dropout{sfx}")(emb)
        states = keras.layers.Bidirectional(
            keras.layers.GRU(config.rnn_units, return_sequences=True), name=f"bigru{sfx}"
        )(x)
        if config.residual:
            states = keras.layers.Concatenate(name=f"token_features{sfx}")([x, states])
        context, weights = AttentionPooling(config.attention_units, name=f"attention_pool{sfx}")(states)
        h = keras.layers.Dropout(config.dropout, name=f"dropout{sfx}")(context)
        member_logits.append(keras.layers.Dense(n_classes, name=f"member_logits{sfx}" if sfx else rnn_name)(h))
        member_weights.append(weights)
    if len(member_logits) > 1:
        rnn_logits = keras.layers.Average(name=rnn_name)(member_logits)
        weights = keras.layers.Average(name="attention_mean")(member_weights)
    else:
        rnn_logits, weights = member_logits[0], member_weights[0]
    raw_logits = keras.layers.Average(name="dense_logits")([rnn_logits, wide_logits]) if config.wide else rnn_logits
    temperature = TemperatureScaling(1.0, name=TEMPERATURE)
    logits = temperature(raw_logits)
    probs = keras.layers.Softmax(name="probabilities")(logits)
    attention = keras.layers.Identity(name="attention")(weights)
    # Third output: the logits the out-of-scope score reads. With a wide path these are the
    # attention-RNN's own (temperature-scaled) logits: a bag of known words says little about
    # whether the case as a whole is like the training cases.
    logits_out = keras.layers.Identity(name="logits")(temperature(rnn_logits) if config.wide else logits)
    return keras.Model(text_in, [probs, attention, logits_out], name="attention_bigru_text_classifier")


def vocabulary(model: keras.Model) -> list[str]:
    from medviz.importer.serving import find_vectorizer  # imported models keep theirs elsewhere

    return list(find_vectorizer(model).get_vocabulary())


def sequence_length(model: keras.Model) -> int:
    from medviz.importer.serving import find_vectorizer

    return int(find_vectorizer(model).get_config()["output_sequence_length"])


def member_logit_layers(model: keras.Model) -> list[str]:
    """Names of the separately trained logit heads: one per ensemble member (or the single recurrent
    head), plus the wide path's when the model has one."""
    names = {layer.name for layer in model.layers}
    heads = sorted(n for n in names if n.startswith("member_logits_"))
    if not heads:
        heads = ["rnn_logits"] if "rnn_logits" in names else ["dense_logits"]
    return heads + (["wide_logits"] if "wide_logits" in names else [])


def scope_logit_layer(model: keras.Model) -> str:
    """The layer whose (pre-temperature) logits feed the out-of-scope score."""
    return "rnn_logits" if any(layer.name == "wide_logits" for layer in model.layers) else "dense_logits"
