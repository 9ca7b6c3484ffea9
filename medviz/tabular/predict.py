"""Fast inference for tabular bundles: one compiled tf.function over large float32 batches."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medviz.bundle import ModelBundle
from medviz.errors import BundleError, UnsupportedBundleError
from medviz.schema import FeatureSpec, feature_specs

BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class RiskBands:
    """low < ``low_cut`` <= medium < ``high_cut`` <= high (cut-points are probabilities)."""

    low_cut: float
    high_cut: float
    rationale: str = ""

    @classmethod
    def from_manifest(cls, manifest) -> "RiskBands":
        rb = manifest.get("risk_bands") or {}
        try:
            low, high = (float(v) for v in rb["cut_points"])
        except (KeyError, TypeError, ValueError):
            raise BundleError(f"bundle '{manifest.get('name')}': risk_bands.cut_points must be [low, high]") from None
        if not 0.0 < low < high < 1.0:
            raise BundleError(f"bundle '{manifest.get('name')}': risk band cut-points must satisfy 0 < low < high < 1")
        return cls(low, high, str(rb.get("rationale", "")))

    def band(self, risk: np.ndarray) -> np.ndarray:
        """Band name per risk ("" where risk is NaN)."""
        risk = np.asarray(risk, dtype=float)
        out = np.select([risk >= self.high_cut, risk >= self.low_cut, risk < self.low_cut], list(BANDS[::-1]), "")
        return out.astype(object)

    def band_codes(self, risk: np.ndarray) -> np.ndarray:
        """0 where risk is NaN, else 1 + the index of the band in BANDS."""
        risk = np.asarray(risk, dtype=float)
        with np.errstate(invalid="ignore"):
            codes = 1 + (risk >= self.low_cut).astype(np.int8) + (risk >= self.high_cut).astype(np.int8)
        return np.where(np.isnan(risk), 0, codes).astype(np.int8)

    def describe(self) -> str:
        return (f"low < {self.low_cut:.0%} ≤ medium < {self.high_cut:.0%} ≤ high")


@dataclass(frozen=True)
class TabularPredictor:
    """Wraps a tabular bundle's model in a compiled function with a fixed (None, F) float32 signature."""

    bundle: ModelBundle
    specs: tuple[FeatureSpec, ...]
    bands: RiskBands
    _fn: object = field(repr=False)
    _both: object = field(repr=False, default=None)  # x -> (risk, log-odds), if the model has a logit output

    @classmethod
    def from_bundle(cls, bundle: ModelBundle) -> "TabularPredictor":
        if not bundle.is_tabular:
            raise UnsupportedBundleError(f"bundle '{bundle.name}' is a {bundle.task} model, not a tabular model")
        import tensorflow as tf

        specs = tuple(feature_specs(bundle.manifest))
        model = bundle.model
        width = int(model.inputs[0].shape[-1])
        if width != len(specs):
            raise BundleError(f"bundle '{bundle.name}': the model takes {width} features, the manifest lists {len(specs)}")

        @tf.function(input_signature=[tf.TensorSpec([None, len(specs)], tf.float32)], reduce_retracing=True)
        def fn(x):
            return model(x, training=False)[0][:, 0]

        both = None
        out_names = list(getattr(model, "output_names", None) or [])
        if "logit" in out_names:
            li = out_names.index("logit")

            @tf.function(input_signature=[tf.TensorSpec([None, len(specs)], tf.float32)], reduce_retracing=True)
            def both(x):
                out = model(x, training=False)
                return out[0][:, 0], tf.cast(out[li][:, 0], tf.float64)

        predictor = cls(bundle=bundle, specs=specs, bands=RiskBands.from_manifest(bundle.manifest), _fn=fn, _both=both)
        predictor.predict(np.zeros((1, len(specs)), dtype=np.float32))  # trace once
        return predictor

    @property
    def feature_names(self) -> list[str]:
        return [s.name for s in self.specs]

    def predict(self, values: np.ndarray, batch_size: int = 262_144) -> np.ndarray:
        """Calibrated P(positive) per row of raw ``values`` (N, F), NaN meaning blank."""
        import tensorflow as tf

        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != len(self.specs):
            raise ValueError(f"expected an (N, {len(self.specs)}) array, got shape {values.shape}")
        out = np.empty(len(values), dtype=np.float64)
        for i in range(0, len(values), batch_size):
            out[i : i + batch_size] = self._fn(tf.constant(values[i : i + batch_size])).numpy()
        return out

    def predict_with_logit(self, values: np.ndarray, batch_size: int = 262_144) -> tuple[np.ndarray, np.ndarray | None]:
        """(risk, log-odds) from one model call; log-odds None if the model has no ``logit`` output."""
        import tensorflow as tf

        if self._both is None:
            return self.predict(values, batch_size), None
        values = np.asarray(values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != len(self.specs):
            raise ValueError(f"expected an (N, {len(self.specs)}) array, got shape {values.shape}")
        risk = np.empty(len(values), dtype=np.float64)
        logit = np.empty(len(values), dtype=np.float64)
        for i in range(0, len(values), batch_size):
            r, lg = self._both(tf.constant(values[i : i + batch_size]))
            risk[i : i + batch_size] = r.numpy()
            logit[i : i + batch_size] = lg.numpy()
        return risk, logit
