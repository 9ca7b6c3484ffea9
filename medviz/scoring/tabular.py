"""Scorer for tabular bundles: one chunk of feature columns in, risk, band, flags and top reasons out."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.scoring.render import _str_series, _text_column
from medviz.tabular.predict import BANDS


class TabularScorer:
    """Scores a tabular bundle's feature columns (matched by name). Built once, reused for every chunk.

    Validation (medviz.schema.validate_frame) and the model call are vectorised over the chunk; rows
    with an error keep empty ``risk`` / ``risk_band`` and say why in ``error``.
    """

    def __init__(self, bundle: ModelBundle, predictor=None, explainer=None, explain: bool = True):
        from medviz.tabular.predict import TabularPredictor

        self.bundle = bundle
        self.predictor = predictor or TabularPredictor.from_bundle(bundle)
        self.specs = list(self.predictor.specs)
        self.bands = self.predictor.bands
        self.explainer = None
        if explain:  # exact Shapley, ~2 µs/row on the logit-additive path: on by default
            from medviz.explain import TabularExplainer

            self.explainer = explainer or TabularExplainer.from_bundle(bundle)

    def check_columns(self, columns: Iterable[str]):
        """Raise :class:`SchemaError` naming missing columns; return the check (unexpected columns listed)."""
        from medviz.schema import check_columns

        return check_columns(columns, self.specs)

    def output_columns(self) -> list[str]:
        return ["risk", "risk_band", "flags", "top_reasons", "warnings", "error"]

    def for_csv(self, scored: pd.DataFrame) -> pd.DataFrame:
        """The scored frame as written to CSV: as scored (``risk`` is already rounded in :meth:`score`)."""
        return scored

    def score(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """The output columns for ``chunk``. Text columns are pandas' Arrow-backed strings, built
        column-wise (a clean row costs no Python: messages exist only for flagged rows)."""
        import pyarrow as pa

        from medviz.schema import validate_frame

        v = validate_frame(chunk, self.specs)
        n = len(chunk)
        ok_idx = np.flatnonzero(v.ok)
        risk = np.full(n, np.nan)
        logit = None
        if ok_idx.size:
            x_ok = v.values[ok_idx]
            risk[ok_idx], logit = self.predictor.predict_with_logit(x_ok)
        out = pd.DataFrame(index=chunk.index)
        out["risk"] = np.round(risk, 6)
        out["risk_band"] = _text_column(self.bands.band_codes(risk), _BAND_TEXTS, chunk.index)
        out["flags"] = _str_series(v.flags, chunk.index)
        if self.explainer is not None:
            from medviz.explain import top_reasons_array

            if ok_idx.size:
                phi = self.explainer.shap_values(x_ok, logits=logit if self.explainer.additive else None)
                reasons = top_reasons_array(phi, x_ok.astype(np.float64), self.explainer.specs)
                # rows that were not scored point at one extra empty string
                where = np.full(n, len(ok_idx), dtype=np.int64)
                where[ok_idx] = np.arange(len(ok_idx))
                reasons = pa.concat_arrays([reasons, pa.array([""], type=pa.string())]).take(pa.array(where))
            else:
                reasons = pa.array([""] * n, type=pa.string())
            out["top_reasons"] = pd.Series(reasons.to_pandas().array, index=chunk.index)
        out["warnings"] = _str_series(v.warnings, chunk.index)
        out["error"] = _str_series(v.error, chunk.index)
        return out


_BAND_TEXTS = ("",) + tuple(BANDS)
