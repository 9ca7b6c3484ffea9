"""Fast inference for text bundles: one compiled TF function, reused for single cases and batches."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from medviz.bundle import ModelBundle
from medviz.errors import UnsupportedBundleError
from medviz.text.layers import TOKEN_PATTERN
from medviz.text.model import VECTORIZER, sequence_length, vocabulary

log = logging.getLogger(__name__)
_TOKEN_RE = re.compile(TOKEN_PATTERN)
OOV_TOKEN = "[UNK]"


# Whole notes (issue 12): a text longer than the model's window is read as overlapping windows of
# seq_len words, WINDOW_OVERLAP words shared between neighbours (so a finding cut by one window's edge
# is whole in the next), and the windows' outputs are pooled per note. At most MAX_WINDOWS windows
# are read; the words after them are reported as not read (TextPrediction.n_read < n_tokens).
WINDOW_OVERLAP = 16
MAX_WINDOWS = 32


# Rows per call of the compiled function. Texts are sorted by length and cut after each batch's longest
# text, so smaller batches carry less padding through the recurrent layer: 4,096 case texts of the speed
# benchmark, calls of 2,048 / 1,024 / 512 / 256 rows, interleaved: 152 / 113 / 106 / 106 ms wall and
# 159 / 118 / 114 / 127 ms CPU per 1,000 cases (session 8, load ~2); below 512 the per-call cost wins.
BATCH_SIZE = 512


@dataclass(frozen=True)
class TextPrediction:
    """Model outputs for a batch of texts (arrays share the row order of the input).

    A text of more than ``seq_len`` words is read in overlapping windows whose outputs are pooled
    (:meth:`TextPredictor.predict`): ``probabilities`` are each class's largest probability over the
    windows, renormalised to sum to 1; ``logits`` (what the out-of-scope score reads) the windows'
    mean; ``attention`` the windows' weights put back on the note's words (mean over the windows that
    read a word, renormalised to sum to 1).
    """

    probabilities: np.ndarray  # (N, C) calibrated
    attention: np.ndarray | None  # (N, L), sums to 1 over real tokens; L >= seq_len; None if not asked for
    logits: np.ndarray  # (N, C) temperature-scaled
    # (N,) share of each text's tokens outside the vocabulary (1 if none), from the same tokenisation
    # as the model's; None when the compiled graph could not provide it (see unknown_shares)
    unknown: np.ndarray | None = None
    windows: np.ndarray | None = None  # (N,) windows read per text (None: every text fits one window)
    words_not_read: np.ndarray | None = None  # (N,) words after the last window (None: every text read whole)

    def read_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(windows, words not read) per text, as arrays even when every text fitted one window."""
        n = len(self.probabilities)
        return (self.windows if self.windows is not None else np.ones(n, dtype=np.int64),
                self.words_not_read if self.words_not_read is not None else np.zeros(n, dtype=np.int64))


@dataclass(frozen=True)
class Token:
    text: str  # as typed
    start: int  # character span in the original text
    end: int
    normalized: str
    known: bool
    position: int | None  # index into TextPrediction.attention, None if past the words read


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
    token_re: re.Pattern = field(repr=False, default=_TOKEN_RE)  # the model's word rule (imported models differ)

    @classmethod
    def from_bundle(cls, bundle: ModelBundle) -> "TextPredictor":
        if not bundle.is_text:
            raise UnsupportedBundleError(f"bundle '{bundle.name}' is a {bundle.task} model, not a text model")
        import tensorflow as tf

        model = bundle.model
        seq_len = sequence_length(model)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], reduce_retracing=True)
        def full(x):
            probs, att, logits = model(x, training=False)
            return probs, att, logits

        fn = _trimmed_function(model, seq_len) or full
        vocab = vocabulary(model)
        from medviz.importer.serving import token_pattern_of

        token_re = re.compile(token_pattern_of(model))
        predictor = cls(bundle=bundle, _fn=fn, vocab=frozenset(vocab[2:]), seq_len=seq_len, token_re=token_re)
        if fn is not full and not _same_outputs(fn, full, model):
            log.warning("trimmed text graph disagrees with the full model; using the full model")
            predictor = cls(bundle=bundle, _fn=full, vocab=frozenset(vocab[2:]), seq_len=seq_len, token_re=token_re)
        predictor.predict([""])  # trace once
        return predictor

    @property
    def stride(self) -> int:
        """Words between the starts of two neighbouring windows."""
        return max(1, self.seq_len - min(WINDOW_OVERLAP, self.seq_len // 2))

    @property
    def read_limit(self) -> int:
        """The most words of one text the model reads (MAX_WINDOWS overlapping windows)."""
        return self.seq_len + (MAX_WINDOWS - 1) * self.stride

    def predict(self, texts: list[str], batch_size: int = BATCH_SIZE, *, attention: bool = True) -> TextPrediction:
        """Calibrated probabilities, attention and logits for ``texts``, in input order.

        A text of at most ``seq_len`` words is one model row. A longer one is cut into overlapping
        windows of ``seq_len`` words (``stride`` apart, at most :data:`MAX_WINDOWS`), each window a
        model row, pooled back into one row per text (see :class:`TextPrediction`). Probabilities:
        per class the maximum over the windows, renormalised — a complaint stated in one window of a
        note otherwise about other things (social history, medication) still decides, where a mean
        would let the other windows outvote it (66 robustness vignettes after 81 words of unrelated
        history: top-1 54.5 % with max, 37.9 % with the mean log-probability, 4.5 % cut at 64 words;
        the top probability of out-of-scope notes did not rise: 0.27 either way; ARCHITECTURE.md).
        Windows that agree give back their own probability. The out-of-scope score reads the mean of
        the windows' logits, so a long note is not judged in scope on its most familiar window alone.
        ``attention=False`` skips the attention (batch scoring does not show it).

        Large batches are sorted by length first so each chunk's padding (cut off inside the compiled
        function) is as short as its longest text, then put back in the caller's order.
        """
        texts = list(texts)
        n = len(texts)
        c = len(self.bundle.labels)
        if n == 0:
            return TextPrediction(np.zeros((0, c)), np.zeros((0, self.seq_len)) if attention else None, np.zeros((0, c)))
        long_rows, spans = self._long_texts(texts)
        if not long_rows:
            probs, att, logits, unknown = self._run(texts, batch_size)
            return TextPrediction(probs, att if attention else None, logits, unknown)
        return self._predict_windows(texts, long_rows, spans, batch_size, attention)

    def _long_texts(self, texts: list[str]) -> tuple[list[int], list[list[tuple[int, int]]]]:
        """Rows with more than seq_len words, and their word spans. A word is at least one character
        and words are separated by at least one, so a text of at most 2 * seq_len - 1 characters
        cannot be long: only longer texts are tokenised here."""
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        rows, spans = [], []
        # Han characters are tokens with no separator between them: any text over seq_len characters may be long
        shortest = self.seq_len + 1 if "\u4e00" in self.token_re.pattern else 2 * self.seq_len
        maybe = np.flatnonzero(lengths >= shortest)
        counts = count_matches(self.token_re, [texts[i] for i in maybe])  # the model's own word rule
        for i in maybe[counts > self.seq_len]:  # spans only for the texts that are long
            words = [m.span() for m in self.token_re.finditer(texts[i])]
            if len(words) > self.seq_len:
                rows.append(int(i))
                spans.append(words)
        return rows, spans

    def _predict_windows(self, texts, long_rows, spans, batch_size: int, attention: bool) -> TextPrediction:
        n, L, step = len(texts), self.seq_len, self.stride
        flat = list(texts)
        owner = list(range(n))  # model row -> text row
        first_word = [0] * n  # model row -> index of its first word in the text
        n_tokens = np.zeros(n, dtype=np.int64)  # counted for long texts only
        n_read = np.zeros(n, dtype=np.int64)
        windows = np.ones(n, dtype=np.int64)
        for i, words in zip(long_rows, spans):
            total = len(words)
            starts = list(range(0, max(total - L, 0) + 1, step))
            if starts[-1] + L < total:  # the last window ends on the last word
                starts.append(total - L)
            starts = starts[:MAX_WINDOWS]
            n_tokens[i], n_read[i], windows[i] = total, min(total, starts[-1] + L), len(starts)
            flat[i] = texts[i][words[0][0] : words[L - 1][1]]
            for s0 in starts[1:]:
                flat.append(texts[i][words[s0][0] : words[min(s0 + L, total) - 1][1]])
                owner.append(i)
                first_word.append(s0)
        probs, att, logits, unknown = self._run(flat, batch_size)
        owner_arr = np.asarray(owner)
        counts = np.bincount(owner_arr, minlength=n).astype(np.float64)
        # model row i < n is text i's first window; only the later windows (rows n:) are pooled into it, so the
        # unbuffered ufunc.at runs over the extra windows alone (over all rows it cost ~90 ms per 1,000 rows of a
        # CSV chunk in which 2 of 4,096 notes were long; the result is the same: max(0, p) = p, 0.0 + x = x)
        extra = owner_arr[n:]
        pooled = probs[:n].copy()
        np.maximum.at(pooled, extra, probs[n:])  # per class, the window that makes it most probable
        pooled[long_rows] /= pooled[long_rows].sum(axis=1, keepdims=True)  # a one-window text is left as is
        mean_logits = logits[:n].astype(np.float64)
        np.add.at(mean_logits, extra, logits[n:])
        mean_logits /= counts[:, None]
        short = np.ones(n, dtype=bool)
        short[long_rows] = False
        if unknown is not None:  # a long text's share over all its words, as the graph counts a short one's
            unknown = unknown[:n].copy()
            for i, words in zip(long_rows, spans):
                unknown[i] = 1.0 - sum(texts[i][a:b].lower() in self.vocab for a, b in words) / len(words)
        out_att = None
        if attention:
            width = max(L, int(n_read.max()))
            out_att = np.zeros((n, width), dtype=att.dtype)
            out_att[short, :L] = att[:n][short]
            cover = np.zeros((n, width))
            for r in np.flatnonzero(~short[owner_arr]):
                i, s0 = owner[r], first_word[r]
                k = min(L, int(n_tokens[i]) - s0)
                out_att[i, s0 : s0 + k] += att[r, :k]
                cover[i, s0 : s0 + k] += 1.0
            for i in long_rows:
                row = out_att[i] / np.maximum(cover[i], 1.0)
                out_att[i] = row / max(row.sum(), 1e-12)
        return TextPrediction(pooled, out_att, mean_logits.astype(logits.dtype), unknown,
                              windows=windows, words_not_read=n_tokens - n_read)

    def _run(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """One pass of the compiled function over texts of at most seq_len words each."""
        import tensorflow as tf

        n = len(texts)
        if n <= batch_size:
            out = [value.numpy() for value in self._fn(tf.constant(texts, dtype=tf.string))]
        else:
            order = np.argsort(np.fromiter(map(len, texts), dtype=np.int64, count=n), kind="stable")
            texts = [texts[i] for i in order]
            out = []
            for i in range(0, n, batch_size):
                rows = order[i : i + batch_size]
                values = self._fn(tf.constant(texts[i : i + batch_size], dtype=tf.string))
                if not out:
                    out = [np.empty((n, *v.shape[1:]), dtype=v.dtype.as_numpy_dtype) for v in values]
                for o, value in zip(out, values):
                    o[rows] = value.numpy()  # straight into the caller's order: no concatenation, no second copy
        if len(out) == 3:
            out.append(None)
        return tuple(out)

    def tokens(self, text: str) -> list[Token]:
        """The tokens of ``text`` with their spans in the typed text (same rule as the model);
        ``position`` indexes :attr:`TextPrediction.attention`, None for words past :attr:`read_limit`."""
        out = []
        for i, m in enumerate(self.token_re.finditer(text)):
            norm = m.group().lower()
            out.append(
                Token(
                    text=m.group(),
                    start=m.start(),
                    end=m.end(),
                    normalized=norm,
                    known=norm in self.vocab,
                    position=i if i < self.read_limit else None,
                )
            )
        return out


def count_matches(pattern: re.Pattern, texts: list[str]) -> np.ndarray:
    """(N,) number of non-overlapping matches of ``pattern`` in each text, as ``len(pattern.findall(t))``.

    Counted by Arrow's RE2 kernel (C++, without the GIL: CSV scoring's other threads run meanwhile) when
    the pattern is plain character classes and alternations (the word rules here: a run of letters/digits
    or one Han character, on which RE2 and Python's re find the same matches); Python's re otherwise, or
    where Arrow cannot take a text (a lone surrogate)."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    pat = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), pattern.pattern)
    if "\\" not in pat and not pattern.flags & ~re.UNICODE:  # no escapes whose meaning differs between the engines
        try:
            import pyarrow as pa
            import pyarrow.compute as pc

            counts = pc.count_substring_regex(pa.array(texts, type=pa.large_string()), pat)
            return counts.to_numpy(zero_copy_only=False).astype(np.int64)
        except (ImportError, UnicodeError, ValueError, TypeError, NotImplementedError):  # ArrowInvalid is a ValueError
            pass
    return np.fromiter((len(pattern.findall(t)) for t in texts), dtype=np.int64, count=len(texts))


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
    """Share of each text's tokens (as the model splits them) outside the model's vocabulary; 1 if none.

    Vectorised with tensorflow's string ops (the model's own standardisation, then a hash lookup):
    a Python loop over the tokens cost more than the model itself on large batches."""
    import tensorflow as tf

    if len(texts) == 0:
        return np.ones(0)
    from medviz.importer.serving import find_vectorizer, unknown_shares_of

    import keras

    vec = find_vectorizer(model)
    if not isinstance(vec, keras.layers.TextVectorization) or vec.name != VECTORIZER:
        return unknown_shares_of(vec, texts)  # an imported model: its own word rule
    vocab = vocabulary(model)[2:]
    if not vocab:
        return np.ones(len(texts))
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(vocab), tf.ones(len(vocab), tf.float32)), default_value=0.0
    )
    tokens = vec._preprocess(tf.constant(list(texts), dtype=tf.string))  # the layer's own standardize + split
    n = tokens.row_lengths().numpy().astype(float)
    known = tf.reduce_sum(tf.ragged.map_flat_values(table.lookup, tokens), axis=1).numpy().astype(float)
    return np.where(n > 0, 1.0 - known / np.maximum(n, 1.0), 1.0)


def _trimmed_function(model, seq_len: int):
    """The model as one compiled function that cuts the vectorizer's padding after the longest text
    of the batch before the embedding (the masked BiGRU and attention give the same result on ~30
    steps as on 64), and pads the attention back to ``seq_len``. None if the graph cannot be split."""
    import keras
    import tensorflow as tf

    try:
        vec = model.get_layer(VECTORIZER)
        if not isinstance(vec, keras.layers.TextVectorization):
            return None  # an imported model's Tokenizer layer: the full graph
        tail = keras.Model(vec.output, model.outputs)
    except Exception as exc:  # another architecture: the full graph is used
        log.info("text predictor uses the full graph (%s)", type(exc).__name__)
        return None

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], reduce_retracing=True)
    def fn(x):
        # the vectorizer's own steps (standardise, split, look up), kept ragged for a moment so the
        # unknown-word share covers every token, not only the first seq_len (checked against
        # vec(x) and unknown_shares by _same_outputs; a separate pass cost ~20 µs a case)
        ragged = vec._lookup_layer.call(vec._preprocess(x))
        ids = ragged.to_tensor(default_value=0, shape=[None, seq_len])
        n_tokens = tf.cast(ragged.row_lengths(), tf.float32)
        known = tf.reduce_sum(tf.cast(ragged >= 2, tf.float32), axis=1)  # 0 = padding, 1 = [UNK]
        unknown = tf.where(n_tokens > 0, 1.0 - known / tf.maximum(n_tokens, 1.0), 1.0)
        longest = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(ids > 0, tf.int32), axis=1)), 1)
        probs, att, logits = tail(ids[:, :longest], training=False)
        att = tf.pad(att, [[0, 0], [0, seq_len - tf.shape(att)[1]]])
        return probs, att, logits, unknown

    return fn


def _same_outputs(fn, full, model) -> bool:
    import tensorflow as tf

    probe = tf.constant(["", "fever", "a b c d e f g h", "Cough, cough!! 38.9 fever and chills " * 3, "x " * 200])
    try:
        a, b = fn(probe), full(probe)
    except Exception:  # a graph that does not accept a shorter sequence, or other tokenizer internals
        return False
    same = all(np.allclose(x.numpy(), y.numpy(), atol=1e-5, rtol=0) for x, y in zip(a, b))
    if len(a) > len(b):  # the unknown-word share, against the separate tensorflow pass
        texts = [t.decode() for t in probe.numpy().tolist()] + ["zzqx fever", "[UNK] unk"]
        got = fn(tf.constant(texts))[3].numpy()
        same = same and np.allclose(got, unknown_shares(model, texts), atol=1e-6)
    return same
