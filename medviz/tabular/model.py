"""Build the tabular risk model: raw values in, calibrated probability out.

raw (N, F) with NaN blanks -> MissingIndicatorImputer (training medians, optional log) ->
Normalization (adapted on the training rows) ‖ missing indicators -> Dense(1) logit (L2) ->
PlattScaling -> sigmoid.

Outputs, in order: ``risk`` (N, 1) calibrated P(positive); ``logit`` (N, 1) the calibrated log-odds
(the scale SHAP explanations use).

Why a logistic model and not a deeper network: on Pima (200 training rows) a one-hidden-layer MLP
and splines both scored lower test AUC (0.84–0.85) than the linear model (0.866) in our trials;
the data cannot support more parameters.
"""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from medviz.schema import FeatureSpec
from medviz.tabular.layers import MissingIndicatorImputer, PlattScaling

IMPUTER = "imputer"
NORMALIZER = "normalizer"
DENSE = "dense_logit"
PLATT = "platt"
OUTPUT_NAMES = ("risk", "logit")


def transformed_training_values(x: np.ndarray, specs: Sequence[FeatureSpec]) -> np.ndarray:
    """What the normalizer sees: imputed with the medians, log where declared (mirror of the layer)."""
    fill = np.array([s.median for s in specs], dtype=np.float32)
    out = np.where(np.isnan(x), fill, x).astype(np.float32)
    for j, s in enumerate(specs):
        if s.transform == "log":
            out[:, j] = np.log(np.maximum(out[:, j], 1e-6))
    return out


def build_tabular_model(x_train: np.ndarray, specs: Sequence[FeatureSpec], l2: float = 0.0) -> keras.Model:
    """A fresh (uncalibrated: slope 1, intercept 0) model whose normalizer is adapted on ``x_train``."""
    nf = len(specs)
    inp = keras.Input(shape=(nf,), dtype="float32", name="features")
    imputer = MissingIndicatorImputer(
        [float(s.median) for s in specs], [s.transform == "log" for s in specs], name=IMPUTER
    )
    values, indicators = imputer(inp)
    norm = keras.layers.Normalization(axis=-1, name=NORMALIZER)
    norm.adapt(transformed_training_values(x_train, specs))
    z = keras.layers.Concatenate(name="design")([norm(values), indicators])
    # Zero initialisation (the loss is convex, so nothing is lost): an indicator that is never 1 in
    # training gets no gradient and keeps weight 0 instead of a random one.
    raw = keras.layers.Dense(1, kernel_initializer="zeros", kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
                             name=DENSE)(z)
    logit = PlattScaling(name=PLATT)(raw)
    risk = keras.layers.Activation("sigmoid", name="risk")(logit)
    logit_out = keras.layers.Identity(name="logit")(logit)
    return keras.Model(inp, [risk, logit_out], name="calibrated_logistic_risk_model")


def raw_logit_model(model: keras.Model) -> keras.Model:
    """The same graph up to the uncalibrated logit (for training and for fitting the calibration)."""
    return keras.Model(model.input, model.get_layer(DENSE).output)
