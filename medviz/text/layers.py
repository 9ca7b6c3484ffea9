"""Custom layers of the text model, registered serializable (package ``medviz``)."""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

# Tokens are runs of ASCII letters and digits; everything else separates them. "3/7" -> "3", "7";
# "38.9" -> "38", "9". Kept in one place so the Python-side token display matches the model exactly.
TOKEN_PATTERN = r"[A-Za-z0-9]+"
_TF_SEPARATORS = r"[^a-z0-9]+"
# Chinese (issue 14): the same rule, plus each Han character (CJK Unified Ideographs, Extension A,
# Compatibility Ideographs) a token of its own: "发热3天，cough" -> 发, 热, 3, 天, cough. Character
# tokens need no segmenter inside the saved graph (a word segmenter such as jieba is Python and its
# dictionary would have to travel with the bundle); the recurrent head reads characters in order.
from medviz.text.zh import HAN_RANGES  # noqa: E402 (re-exported: bundles saved before name it here)
TOKEN_PATTERN_HAN = r"[A-Za-z0-9]+|[" + HAN_RANGES + "]"
_TF_HAN = r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}"


@keras.saving.register_keras_serializable(package="medviz")
def standardize_text(x):
    """Lower-case (ASCII) and turn every non-alphanumeric run into one space."""
    x = tf.strings.lower(x)
    return tf.strings.strip(tf.strings.regex_replace(x, _TF_SEPARATORS, " "))


@keras.saving.register_keras_serializable(package="medviz")
def standardize_text_han(x):
    """:func:`standardize_text` that also keeps Han characters, each one a token (spaces around it).
    For ASCII text the result is the same tokens as :func:`standardize_text`."""
    x = tf.strings.lower(x)  # ASCII only: Han characters are bytes it leaves alone
    x = tf.strings.regex_replace(x, f"[^a-z0-9{_TF_HAN}]+", " ")
    x = tf.strings.regex_replace(x, f"([{_TF_HAN}])", r" \1 ")
    return tf.strings.strip(x)


TOKENIZERS = {"ascii": standardize_text, "han": standardize_text_han}
TOKEN_PATTERNS = {"ascii": TOKEN_PATTERN, "han": TOKEN_PATTERN_HAN}


def tokenizer_kind(standardize) -> str:
    """"han" for :func:`standardize_text_han` (the function, or its registered name once saved), else "ascii"."""
    name = standardize if isinstance(standardize, str) else getattr(standardize, "__name__", "")
    return "han" if str(name).endswith("standardize_text_han") else "ascii"


@keras.saving.register_keras_serializable(package="medviz")
class AttentionPooling(keras.layers.Layer):
    """Additive (Bahdanau) attention pooling over a masked sequence.

    score_t = v . tanh(W h_t + b); weights = softmax over the real (unmasked) tokens, exactly 0 on
    padding. Returns the weighted sum of states and the weights, which the model exposes as a second
    output. Rows with no real token get all-zero weights and a zero context vector.
    """

    def __init__(self, units: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.w = self.add_weight(name="w", shape=(dim, self.units), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(self.units,), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.units,), initializer="glorot_uniform")

    def call(self, states, mask=None):
        scores = ops.tensordot(ops.tanh(ops.tensordot(states, self.w, axes=1) + self.b), self.v, axes=1)
        if mask is None:
            mask = ops.ones_like(scores, dtype="bool")
        maskf = ops.cast(mask, scores.dtype)
        scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        scores = scores - ops.max(scores, axis=-1, keepdims=True)
        expd = ops.exp(scores) * maskf
        weights = expd / ops.maximum(ops.sum(expd, axis=-1, keepdims=True), 1e-12)
        context = ops.sum(states * ops.expand_dims(weights, -1), axis=1)
        return context, weights

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1]), (input_shape[0], input_shape[1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="medviz")
class WordDropout(keras.layers.Layer):
    """Training-time word deletion: each real token id is set to 0 (padding) with probability ``rate``.

    The embedding's ``mask_zero`` then masks the dropped positions, so the recurrent layer skips them
    and attention gives them weight 0: the model learns from shortened, telegraphic versions of each
    text (closer to how clinicians write). Identity at inference. Keras' Dropout scales survivors and
    works on floats, so it cannot be used on token ids.
    """

    def __init__(self, rate: float = 0.1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, ids, training=None):
        if not training or self.rate <= 0:
            return ids
        keep = keras.random.uniform(ops.shape(ids), seed=self.seed_generator) >= self.rate
        return ops.where(keep, ids, ops.zeros_like(ids))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="medviz")
class BagOfWordsLogits(keras.layers.Layer):
    """Wide path of the text model: a linear bag-of-words classifier over the token ids.

    Each vocabulary entry has one learned vector of class evidence; the layer returns their sum over
    the real tokens divided by sqrt(number of real tokens) (the l2 norm of a binary word-count vector,
    as in TF-IDF + logistic regression). Padding (id 0) contributes nothing; a row with no real token
    gets zero logits (Keras' GlobalAveragePooling1D divides by zero there and yields NaN).
    """

    def __init__(self, n_classes: int, vocab_size: int, l2: float = 0.0, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = int(n_classes)
        self.vocab_size = int(vocab_size)
        self.l2 = float(l2)
        # Output multiplier: with Adam it acts as a larger learning rate for this layer alone (a linear
        # bag-of-words model needs ~10x the step size of the recurrent path to converge in the same epochs).
        self.scale = float(scale)

    def build(self, input_shape):
        reg = keras.regularizers.L2(self.l2) if self.l2 > 0 else None
        self.table = self.add_weight(
            name="table", shape=(self.vocab_size, self.n_classes), initializer="zeros", regularizer=reg
        )

    def call(self, ids, training=None):
        if not training:
            return self._sparse_call(ids)
        ids = ops.cast(ids, "int32")
        maskf = ops.cast(ids > 0, self.compute_dtype)
        vecs = ops.take(self.table, ids, axis=0) * ops.expand_dims(maskf, -1)
        n = ops.sum(maskf, axis=1, keepdims=True)
        return self.scale * ops.sum(vecs, axis=1) / ops.sqrt(ops.maximum(n, 1.0))

    def _sparse_call(self, ids):
        """Inference: the same sum without the (N, L, C) gathered block the training path builds (at 801
        classes that block was ~60 % of the model's time): ``tf.sparse.segment_sqrt_n`` gathers and sums the
        table rows of each row's real tokens and divides by sqrt(their number) in one kernel — the layer's
        formula exactly (rows without a real token get zeros through ``num_segments``). It replaced a
        sparse word-count matrix times the table (``tf.sparse.sparse_dense_matmul``): 2,048 cases x 801
        classes, 30-44 against 6-8 ms per 1,000 cases on one thread (benchmarks/wide_head.py); logits equal
        to ~1e-6 (float32 summation order). Training keeps the gather (its gradient is the one the shipped
        bundles were fitted with)."""
        import tensorflow as tf

        ids = tf.cast(ids, tf.int64)
        real = tf.where(ids > 0)  # (nnz, 2) row, position, in row-major order: segment ids sorted as required
        summed = tf.sparse.segment_sqrt_n(tf.convert_to_tensor(self.table), tf.gather_nd(ids, real), real[:, 0],
                                          num_segments=tf.shape(ids, out_type=tf.int64)[0])
        return self.scale * summed

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_classes)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "vocab_size": self.vocab_size, "l2": self.l2, "scale": self.scale}
