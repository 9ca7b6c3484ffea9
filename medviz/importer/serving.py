"""What the text family asks of a bundle's vectoriser, for medviz's own models and imported ones alike.

A medviz-trained text model has a top-level ``TextVectorization`` named ``vectorizer`` with medviz's
standardisation (runs of ASCII letters and digits). An imported model has either a
:class:`~medviz.importer.tokenizer.KerasTokenizerVectorizer` (Keras Tokenizer rule) at the top, or its
own ``TextVectorization`` somewhere inside. These helpers find the layer and answer with *its* rule:
the words it reads (for display and SHAP masking), and the share of a text's words it does not know.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

# Python regex for the words of a TextVectorization whose standardisation strips punctuation
# (Keras' default "lower_and_strip_punctuation"): runs of characters that are neither whitespace nor
# the punctuation it strips. It differs from the layer only for punctuation inside a word ("don't" is
# one word "dont" there, two here), which matters for display, not for the model's output.
_KERAS_PUNCTUATION = r"""!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~'"""
STRIP_PUNCTUATION_PATTERN = rf"[^\s{_KERAS_PUNCTUATION}]+"


def find_vectorizer(model) -> Any:
    """The layer that turns strings into token ids: a top-level ``vectorizer`` layer, else the first
    ``TextVectorization`` or ``KerasTokenizerVectorizer`` found inside (nested models searched)."""
    import keras

    from medviz.importer.tokenizer import KerasTokenizerVectorizer

    try:
        return model.get_layer("vectorizer")
    except ValueError:
        pass

    def walk(layer):
        for sub in getattr(layer, "layers", []) or []:
            if isinstance(sub, (keras.layers.TextVectorization, KerasTokenizerVectorizer)):
                return sub
            found = walk(sub)
            if found is not None:
                return found
        return None

    found = walk(model)
    if found is None:
        from medviz.errors import BundleError

        raise BundleError("the text model has no vectorizer layer (TextVectorization or KerasTokenizerVectorizer)")
    return found


def token_pattern_of(model) -> str:
    """Python regex whose matches are the words the model's vectoriser reads."""
    from medviz.text.layers import TOKEN_PATTERN

    vec = find_vectorizer(model)
    if hasattr(vec, "token_pattern"):
        return vec.token_pattern
    standardize = vec.get_config().get("standardize")
    if standardize in ("lower_and_strip_punctuation", "strip_punctuation"):
        return STRIP_PUNCTUATION_PATTERN
    if standardize in (None, "lower"):
        return r"\S+"
    # medviz's own standardize_text / standardize_text_han (and any other callable): medviz's rule
    from medviz.text.layers import TOKEN_PATTERNS, tokenizer_kind

    return TOKEN_PATTERNS[tokenizer_kind(standardize)]


def unknown_shares_of(vec, texts: Sequence[str]) -> np.ndarray:
    """(N,) share of each text's words outside ``vec``'s vocabulary (1 for a text with no words), by
    the layer's own standardisation and split (TensorFlow string ops, vectorised)."""
    import tensorflow as tf

    texts = [str(t) for t in texts]
    if not texts:
        return np.ones(0)
    if hasattr(vec, "unknown_shares"):
        return vec.unknown_shares(texts)
    vocab = list(vec.get_vocabulary())[2:]
    words = vec._preprocess(tf.constant(texts, dtype=tf.string))  # the layer's standardise + split
    if not isinstance(words, tf.RaggedTensor):
        words = tf.RaggedTensor.from_tensor(words, padding="")
    n = tf.cast(words.row_lengths(), tf.float32)
    if not vocab:
        return np.ones(len(texts))
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocab), tf.ones(len(vocab), tf.float32)), default_value=0.0
    )
    known = tf.reduce_sum(tf.ragged.map_flat_values(table.lookup, words), axis=1)
    return tf.where(n > 0, 1.0 - known / tf.maximum(n, 1.0), 1.0).numpy().astype(float)


def is_imported(manifest: Mapping[str, Any]) -> bool:
    return "import" in manifest
