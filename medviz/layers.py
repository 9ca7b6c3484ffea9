"""Keras layers shared by both model families, registered so `.keras` files reload in a fresh process."""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="medviz")
class TemperatureScaling(keras.layers.Layer):
    """Divide logits by a fitted temperature (post-hoc calibration, Guo et al. 2017).

    The temperature is a non-trainable weight, so the saved model emits calibrated probabilities
    and nothing outside the model needs to know the calibration happened.
    """

    def __init__(self, temperature: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_temperature = float(temperature)

    def build(self, input_shape):
        self.temperature = self.add_weight(
            name="temperature",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_temperature),
            trainable=False,
        )

    def call(self, logits):
        return logits / self.temperature

    def set_temperature(self, value: float) -> None:
        self.temperature.assign(float(value))

    def get_config(self):
        return {**super().get_config(), "temperature": float(ops.convert_to_numpy(self.temperature))
                if self.built else self.initial_temperature}
