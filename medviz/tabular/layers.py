"""Custom layers of the tabular risk model, registered serializable (package ``medviz``).

They keep all preprocessing inside the saved model, so the model takes raw feature values (NaN for a
blank) and returns a calibrated probability.
"""
from __future__ import annotations

from typing import Sequence

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="medviz")
class MissingIndicatorImputer(keras.layers.Layer):
    """Raw values (N, F) with NaN for blanks -> (transformed values (N, F), missing indicators (N, F)).

    A blank is replaced by the training median of its feature; the model also receives a 0/1
    indicator per feature so it can learn how a blank differs from a typical value. Features marked
    ``log`` are log-transformed after imputation (right-skewed measurements such as a pedigree score).
    """

    def __init__(self, fill_values: Sequence[float], log_features: Sequence[bool] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.fill_values = [float(v) for v in fill_values]
        self.log_features = [bool(b) for b in (log_features or [False] * len(self.fill_values))]
        if len(self.log_features) != len(self.fill_values):
            raise ValueError("fill_values and log_features must have the same length")

    def call(self, x):
        x = ops.cast(x, "float32")
        missing = ops.isnan(x)
        fill = ops.broadcast_to(ops.convert_to_tensor(self.fill_values, dtype="float32"), ops.shape(x))
        filled = ops.where(missing, fill, x)
        logs = ops.convert_to_tensor(self.log_features)
        # log of a non-positive value is undefined: clamp at a small positive floor.
        logged = ops.log(ops.maximum(filled, 1e-6))
        values = ops.where(logs, logged, filled)
        return values, ops.cast(missing, "float32")

    def compute_output_shape(self, input_shape):
        return input_shape, input_shape

    def get_config(self):
        return {**super().get_config(), "fill_values": self.fill_values, "log_features": self.log_features}


@keras.saving.register_keras_serializable(package="medviz")
class PlattScaling(keras.layers.Layer):
    """Calibrated logit = slope * raw logit + intercept (Platt 1999), fitted outside on held-out logits.

    Both numbers are non-trainable weights so the saved model emits calibrated probabilities.
    """

    def __init__(self, slope: float = 1.0, intercept: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_slope = float(slope)
        self.initial_intercept = float(intercept)

    def build(self, input_shape):
        self.slope = self.add_weight(name="slope", shape=(), trainable=False,
                                     initializer=keras.initializers.Constant(self.initial_slope))
        self.intercept = self.add_weight(name="intercept", shape=(), trainable=False,
                                         initializer=keras.initializers.Constant(self.initial_intercept))

    def call(self, logits):
        return logits * self.slope + self.intercept

    def set_calibration(self, slope: float, intercept: float) -> None:
        self.slope.assign(float(slope))
        self.intercept.assign(float(intercept))

    def get_config(self):
        if self.built:
            slope = float(ops.convert_to_numpy(self.slope))
            intercept = float(ops.convert_to_numpy(self.intercept))
        else:
            slope, intercept = self.initial_slope, self.initial_intercept
        return {**super().get_config(), "slope": slope, "intercept": intercept}
