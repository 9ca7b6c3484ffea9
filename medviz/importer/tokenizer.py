"""A Keras 2 ``Tokenizer`` (its ``to_json()``) reproduced inside the saved graph.

Keras 3 has no ``Tokenizer`` class, and teams that followed the classic recipe
(``Tokenizer(num_words=10000, oov_token="<OOV>")`` → ``texts_to_sequences`` → ``pad_sequences``)
trained their model on token ids made in Python. Importing such a model wraps it with
:class:`KerasTokenizerVectorizer`, a registered serializable layer that does the same in TensorFlow
ops, so the bundle takes raw strings like every medviz text bundle.

What it reproduces (keras_preprocessing 1.1.2, ``text_to_word_sequence`` + ``texts_to_sequences`` +
``pad_sequences``), tested token for token against the real classes:

* ``lower``: the text is lower-cased (Unicode, ``tf.strings.lower(..., encoding="utf-8")``);
* every character of ``filters`` becomes ``split``, the text is split on ``split`` and empty pieces
  are dropped;
* a word's id is its ``word_index`` entry when that is below ``num_words``; other words become the
  OOV token's id when the tokenizer has one and are dropped when it has none;
* ``pad_sequences(maxlen=sequence_length, padding=..., truncating=...)`` with value 0:
  ``truncating="pre"`` keeps the last ``sequence_length`` ids, ``"post"`` the first;
  ``padding="pre"`` puts the zeros in front, ``"post"`` behind (Keras' defaults are both "pre").

Written by hand because no maintained library ships this layer: the rule is a regex replace, a split
and a hash lookup, all TensorFlow kernels.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from medviz.importer.errors import TokenizerMismatchError

PADDING_SIDES = ("pre", "post")
DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


@dataclass(frozen=True)
class KerasTokenizerConfig:
    """What the model was trained with: the tokenizer's rule and the padding of its sequences."""

    word_index: Mapping[str, int]
    num_words: int | None
    oov_token: str | None
    lower: bool = True
    filters: str = DEFAULT_FILTERS
    split: str = " "
    sequence_length: int = 100
    padding: str = "pre"
    truncating: str = "pre"

    @property
    def oov_index(self) -> int | None:
        return None if self.oov_token is None else self.word_index.get(self.oov_token)

    def kept_words(self) -> list[str]:
        """Words in id order 1..max id (the OOV token included at its id); ids >= num_words left out."""
        limit = self.num_words if self.num_words else None
        pairs = sorted((i, w) for w, i in self.word_index.items() if limit is None or i < limit)
        return [w for _, w in pairs]

    def max_id(self) -> int:
        ids = [i for i in self.word_index.values() if not self.num_words or i < self.num_words]
        return max(ids, default=0)

    def summary(self) -> dict[str, Any]:
        return {
            "num_words": self.num_words,
            "words_known": len(self.kept_words()) - (1 if self.oov_index is not None else 0),
            "oov_token": self.oov_token,
            "lower": self.lower,
            "filters": self.filters,
            "split": self.split,
            "sequence_length": self.sequence_length,
            "padding": self.padding,
            "truncating": self.truncating,
        }


def parse_tokenizer_json(text: str, *, where: str = "tokenizer", sequence_length: int = 100,
                         padding: str = "pre", truncating: str = "pre") -> KerasTokenizerConfig:
    """Parse ``Tokenizer.to_json()`` (``{"class_name": "Tokenizer", "config": {...}}``).

    ``word_index`` may be a JSON string inside the config (what ``to_json`` writes) or an object.
    Raises :class:`TokenizerMismatchError` naming the field for anything this layer cannot reproduce
    (``char_level=True``, a split of more than one character, a malformed word index).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokenizerMismatchError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict) or (data.get("class_name") not in (None, "Tokenizer")):
        raise TokenizerMismatchError(
            f"{where}: expected the JSON of a Keras Tokenizer (tokenizer.to_json(): "
            f"{{\"class_name\": \"Tokenizer\", \"config\": {{...}}}}), got {type(data).__name__}"
        )
    raw_index = config.get("word_index")
    if isinstance(raw_index, str):
        try:
            raw_index = json.loads(raw_index)
        except json.JSONDecodeError:
            raise TokenizerMismatchError(f"{where}: config.word_index is not valid JSON") from None
    if not isinstance(raw_index, dict) or not raw_index:
        raise TokenizerMismatchError(f"{where}: config.word_index must be a non-empty object of word -> id")
    try:
        word_index = {str(w): int(i) for w, i in raw_index.items()}
    except (TypeError, ValueError):
        raise TokenizerMismatchError(f"{where}: config.word_index ids must be whole numbers") from None
    if min(word_index.values()) < 1:
        raise TokenizerMismatchError(f"{where}: config.word_index ids start at 1 (0 is padding), found {min(word_index.values())}")
    if config.get("char_level"):
        raise TokenizerMismatchError(f"{where}: char_level=True tokenizers are not supported (words only)")
    split = config.get("split", " ")
    if not isinstance(split, str) or len(split) != 1:
        raise TokenizerMismatchError(f"{where}: config.split must be one character, got {split!r}")
    num_words = config.get("num_words")
    if num_words is not None and (not isinstance(num_words, int) or num_words < 2):
        raise TokenizerMismatchError(f"{where}: config.num_words must be a whole number >= 2 or null, got {num_words!r}")
    oov = config.get("oov_token")
    if oov is not None and str(oov) not in word_index:
        raise TokenizerMismatchError(f"{where}: oov_token {oov!r} has no id in config.word_index")
    if padding not in PADDING_SIDES or truncating not in PADDING_SIDES:
        raise TokenizerMismatchError(f"padding and truncating must be 'pre' or 'post', got {padding!r} / {truncating!r}")
    if not isinstance(sequence_length, int) or sequence_length < 1:
        raise TokenizerMismatchError(f"--sequence-length must be a whole number >= 1, got {sequence_length!r}")
    filters = config.get("filters", DEFAULT_FILTERS)
    return KerasTokenizerConfig(
        word_index=word_index, num_words=num_words, oov_token=None if oov is None else str(oov),
        lower=bool(config.get("lower", True)), filters=str(filters or ""), split=split,
        sequence_length=sequence_length, padding=padding, truncating=truncating,
    )


def read_tokenizer_file(path: Path | str, **kwargs) -> KerasTokenizerConfig:
    p = Path(path)
    if not p.is_file():
        raise TokenizerMismatchError(f"tokenizer file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TokenizerMismatchError(f"{p.name}: not a UTF-8 text file (expected tokenizer.to_json())") from None
    return parse_tokenizer_json(text, where=p.name, **kwargs)


def _re2_class(chars: str) -> str:
    """A RE2 character class matching exactly ``chars`` (each written as \\x{HEX}: no escaping rules)."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(set(chars))) + "]"


def python_token_pattern(filters: str, split: str) -> str:
    """Python regex whose matches are the tokenizer's words: runs of characters that are neither a
    filter character nor the split character (spans in the typed text, for display and SHAP)."""
    return "[^" + "".join(re.escape(c) for c in sorted(set(filters + split))) + "]+"


@keras.saving.register_keras_serializable(package="medviz")
class KerasTokenizerVectorizer(keras.layers.Layer):
    """Strings (N,) -> token ids (N, sequence_length) int32, exactly as Keras 2's
    ``pad_sequences(tokenizer.texts_to_sequences(texts), maxlen, padding, truncating)``.

    ``words`` holds the words with ids 1..max id in order (``words[i - 1]`` has id ``i``); ids at or
    above ``num_words`` are left out at import, so they behave as unknown words, as in the Tokenizer.
    Medviz's text code reads the layer like a ``TextVectorization`` (``get_vocabulary()``,
    ``output_sequence_length`` in the config) and asks it for its own word split
    (:meth:`split_words`, :attr:`token_pattern`) so the unknown-word share and word display follow
    the tokenizer's rule, not medviz's.
    """

    def __init__(self, words: Sequence[str] = (), oov_index: int | None = None, lower: bool = True,
                 filters: str = DEFAULT_FILTERS, split: str = " ", output_sequence_length: int = 100,
                 padding: str = "pre", truncating: str = "pre", oov_token: str | None = None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.words = [str(w) for w in words]
        self.oov_index = None if oov_index is None else int(oov_index)
        self.oov_token = oov_token
        self.lower = bool(lower)
        self.filters = str(filters)
        self.split = str(split)
        self.output_sequence_length = int(output_sequence_length)
        self.padding = padding
        self.truncating = truncating
        self.token_pattern = python_token_pattern(self.filters, self.split)
        self._filter_re2 = _re2_class(self.filters) if self.filters else None
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.words or [""], dtype=tf.string),
                tf.range(1, max(len(self.words), 1) + 1, dtype=tf.int64) if self.words else tf.constant([-1], tf.int64),
            ),
            default_value=-1,
        )

    # -- the tokenizer's word split ------------------------------------------------------------
    def split_words(self, x):
        """Ragged (N, None) strings: the words ``text_to_word_sequence`` makes of each text."""
        x = tf.convert_to_tensor(x, dtype=tf.string)
        if self.lower:
            x = tf.strings.lower(x, encoding="utf-8")
        if self._filter_re2:
            x = tf.strings.regex_replace(x, self._filter_re2, self.split)
        words = tf.strings.split(x, sep=self.split)
        return tf.ragged.boolean_mask(words, tf.strings.length(words) > 0)

    def unknown_shares(self, texts) -> np.ndarray:
        """(N,) share of each text's words that get no id of their own (OOV or dropped); 1 if none."""
        words = self.split_words(tf.constant(list(texts), dtype=tf.string))
        ids = tf.ragged.map_flat_values(self._table.lookup, words)
        n = tf.cast(words.row_lengths(), tf.float32)
        known = tf.reduce_sum(tf.cast((ids > 0) & (ids != (self.oov_index or -2)), tf.float32), axis=1)
        return tf.where(n > 0, 1.0 - known / tf.maximum(n, 1.0), 1.0).numpy().astype(float)

    def get_vocabulary(self) -> list[str]:
        """TextVectorization's layout: padding, the OOV entry, then every word the model knows.

        With an OOV token the positions are the ids. A tokenizer without one drops unknown words, so
        its first word has id 1 and here sits at position 2 (positions are then not ids)."""
        oov = self.oov_token if self.oov_token is not None else "[UNK]"
        known = [w for i, w in enumerate(self.words, start=1) if i != self.oov_index]
        return ["", oov] + known

    # -- graph -----------------------------------------------------------------------------------
    def call(self, x):
        x = tf.reshape(tf.convert_to_tensor(x, dtype=tf.string), [-1])
        words = self.split_words(x)
        ids = tf.ragged.map_flat_values(self._table.lookup, words)
        if self.oov_index is not None:
            ids = tf.ragged.map_flat_values(lambda v: tf.where(v < 0, tf.cast(self.oov_index, v.dtype), v), ids)
        else:
            ids = tf.ragged.boolean_mask(ids, ids > 0)
        length = self.output_sequence_length
        n = ids.row_lengths()
        if self.truncating == "pre":  # keep the last `length` ids of each row
            start = tf.maximum(n - length, 0)
            ids = tf.RaggedTensor.from_row_lengths(
                tf.gather(ids.flat_values, _ragged_range(ids.row_starts() + start, n - start)), n - start
            )
        else:
            ids = ids[:, :length]
        dense = ids.to_tensor(default_value=0, shape=[None, length])  # post-padded
        if self.padding == "pre":
            kept = ids.row_lengths()
            shift = length - kept  # zeros in front of each row
            pos = tf.range(length, dtype=tf.int64)[None, :] - shift[:, None]
            dense = tf.where(pos >= 0, tf.gather(dense, tf.maximum(pos, 0), batch_dims=1), tf.zeros_like(dense))
        return tf.cast(dense, tf.int32)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_sequence_length)

    def compute_output_spec(self, x):
        return keras.KerasTensor((x.shape[0], self.output_sequence_length), dtype="int32")

    def get_config(self):
        return {
            **super().get_config(), "words": self.words, "oov_index": self.oov_index, "oov_token": self.oov_token,
            "lower": self.lower, "filters": self.filters, "split": self.split,
            "output_sequence_length": self.output_sequence_length, "padding": self.padding, "truncating": self.truncating,
        }

    @classmethod
    def from_tokenizer(cls, cfg: KerasTokenizerConfig, name: str = "vectorizer") -> "KerasTokenizerVectorizer":
        return cls(
            words=_contiguous(cfg),
            oov_index=cfg.oov_index, oov_token=cfg.oov_token, lower=cfg.lower, filters=cfg.filters, split=cfg.split,
            output_sequence_length=cfg.sequence_length, padding=cfg.padding, truncating=cfg.truncating, name=name,
        )


def _contiguous(cfg: KerasTokenizerConfig) -> list[str]:
    """Words for ids 1..max id; a gap in the ids (a hand-edited index) gets an unmatchable word."""
    by_id = {i: w for w, i in cfg.word_index.items() if not cfg.num_words or i < cfg.num_words}
    top = max(by_id, default=0)
    return [by_id.get(i, f"\x00missing-id-{i}") for i in range(1, top + 1)]


def _ragged_range(starts, lengths):
    """Flat indices starts[i] .. starts[i] + lengths[i] - 1 for every row, concatenated."""
    return tf.ragged.range(starts, starts + lengths).flat_values
