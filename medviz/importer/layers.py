"""Small registered layers that adapt an imported model to medviz's output contract.

They hold no Python functions (Lambda layers would break safe-mode loading) and are registered under
package ``medviz``, so the bundle's ``model.keras`` reloads in a fresh process like any other.
"""
from __future__ import annotations

import keras
from keras import ops

# Probabilities are clipped to [EPS, 1 - EPS] before a log when the model exposes no logits.
EPS = 1e-7


@keras.saving.register_keras_serializable(package="medviz")
class TwoClassLogits(keras.layers.Layer):
    """(N, 1) log-odds z -> (N, 2) logits [0, z]: softmax of them is [1 - sigmoid(z), sigmoid(z)]."""

    def call(self, z):
        z = ops.reshape(z, (-1, 1))
        return ops.concatenate([ops.zeros_like(z), z], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2)


@keras.saving.register_keras_serializable(package="medviz")
class ProbabilitiesToLogits(keras.layers.Layer):
    """Log-odds from a model's probabilities when its final layer is not a Dense with the activation
    inside (e.g. a custom head): ``sigmoid`` -> log(p / (1 - p)) (N, 1); ``softmax`` -> log p (N, C),
    equal to the logits up to a per-row constant (softmax and temperature scaling are unchanged by it)."""

    def __init__(self, kind: str = "softmax", **kwargs):
        super().__init__(**kwargs)
        if kind not in ("sigmoid", "softmax"):
            raise ValueError(f"kind must be 'sigmoid' or 'softmax', got {kind!r}")
        self.kind = kind

    def call(self, p):
        p = ops.clip(ops.cast(p, "float32"), EPS, 1.0 - EPS)
        if self.kind == "sigmoid":
            return ops.log(p) - ops.log(1.0 - p)
        return ops.log(p)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package="medviz")
class NoAttention(keras.layers.Layer):
    """All-zero (N, length) weights for a model that exposes no attention, so the bundle keeps the
    text family's three outputs; the manifest says ``capabilities.attention = false`` and no page
    draws them."""

    def __init__(self, length: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.length = int(length)

    def call(self, x):
        n = ops.shape(x)[0]
        return ops.zeros((n, self.length), dtype="float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length)

    def get_config(self):
        return {**super().get_config(), "length": self.length}


@keras.saving.register_keras_serializable(package="medviz")
class StringColumn(keras.layers.Layer):
    """Strings (N,) -> (N, 1), for a raw-string model whose input is shaped (None, 1)."""

    def call(self, x):
        return ops.reshape(x, (-1, 1))

    def compute_output_spec(self, x):
        return keras.KerasTensor((x.shape[0], 1), dtype=x.dtype)
