"""Scorer for text bundles: one chunk of a table's text column in, the text columns of the scored-CSV contract out."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import InputError, SchemaError, columns_hint

# The assertion columns of a scored text CSV: finding phrases as written, lower-cased, "|"-separated
# (statuses medviz.text.analyse.FINDING_STATUSES, in that order).
FINDINGS_COLUMNS = ("findings_present", "findings_absent", "findings_uncertain")


class TextScorer:
    """Scores a text column with a text bundle. Built once per bundle, reused for every chunk."""

    # rows per chunk in score_csv: several chunks in flight so reading/preparing (a worker process), the model
    # and writing overlap (20,000-row chunks left a 20,000-row file with no overlap at all). The network runs in
    # float32 and a row's last bits depend on the batch it is in (its padding and the matrix kernels' blocking),
    # so another chunking can move the 6th decimal of a few written probabilities by one unit (4,096 vs 20,000:
    # 11 of 20,025 rows; ARCHITECTURE.md "CSV scoring speed"); within one chunking the output is deterministic.
    chunksize = 4_096

    def __init__(self, bundle: ModelBundle, text_column: str, predictor=None, explain: bool = False, explainer=None):
        from medviz.text.predict import TextPredictor
        from medviz.text.safety import SafetyConfig

        if not text_column:
            raise InputError("a text bundle needs --text-column: the column that holds the case text")
        self.bundle = bundle
        self.text_column = text_column
        self.predictor = predictor or TextPredictor.from_bundle(bundle)
        self.labels = bundle.labels
        self.safety = SafetyConfig.from_manifest(bundle.manifest)
        self.top_k: int | None = None  # wide label sets: top_1…top_K (+ probabilities) instead of prob_<label> (issue 15)
        # top_reasons for text costs a SHAP run per row (~0.3 s), so it is opt-in (--explain).
        self.explainer = explainer
        if explain and explainer is None:
            from medviz.explain import TextExplainer

            self.explainer = TextExplainer.from_predictor(self.predictor)

    def set_top_k(self, k: int) -> None:
        """Write ``top_1…top_K`` and ``top_1_probability…`` instead of one ``prob_<label>`` per class."""
        from medviz.text.wide import check_top_k

        self.top_k = check_top_k(k)

    def _probability_columns(self) -> list[str]:
        if self.top_k is None:
            return [f"prob_{lab}" for lab in self.labels]
        from medviz.text.wide import top_k_names

        return top_k_names(min(self.top_k, len(self.labels)))

    def check_columns(self, columns: Iterable[str]) -> None:
        columns = list(columns)
        if self.text_column not in columns:
            raise SchemaError(f"text column '{self.text_column}' not found: {columns_hint(columns, [self.text_column])}")

    def output_columns(self) -> list[str]:
        reasons = ["top_reasons"] if self.explainer is not None else []
        return [
            "prediction", "probability", *self._probability_columns(), *reasons,
            "prediction_set", "cant_miss", "out_of_scope", "out_of_scope_score", *FINDINGS_COLUMNS, "warnings", "error",
        ]

    def prepare(self, chunk: pd.DataFrame):
        """Input checks and the bundle's preprocessing for the chunk's texts (:func:`medviz.text.analyse.prepare`).

        Split from :meth:`score` so that ``score_csv`` can run this Python work in its reading
        thread while the scoring thread's model call (which releases the GIL) handles the chunk before."""
        from medviz.text.analyse import prepare

        self.check_columns(chunk.columns)
        return prepare(self.safety, chunk[self.text_column].tolist(), bundle=self.bundle)

    def score(self, chunk: pd.DataFrame, prepared=None) -> pd.DataFrame:
        """The scored-CSV contract columns for one chunk: the text pipeline
        (:func:`medviz.text.analyse.analyse_prepared`), the same as a single case."""
        from medviz.text.analyse import FINDING_STATUSES, analyse_prepared, safety_frame

        self.check_columns(chunk.columns)
        if prepared is None:
            prepared = self.prepare(chunk)
        b = analyse_prepared(self.predictor, prepared, cfg=self.safety)
        ok = b.ok
        out = pd.DataFrame(index=chunk.index)
        probs = b.probabilities
        top = b.top
        labels = np.asarray(self.labels, dtype=object)
        out["prediction"] = np.where(ok, labels[top], "")
        out["probability"] = np.where(ok, probs[np.arange(len(chunk)), top], np.nan)
        if self.top_k is None:  # one block, not one insert per class (801 inserts cost ~1 s per chunk)
            wide = pd.DataFrame(probs, columns=[f"prob_{lab}" for lab in self.labels], index=chunk.index)
        else:
            from medviz.text.wide import top_k_columns

            wide = pd.DataFrame(top_k_columns(self.labels, probs, self.top_k), index=chunk.index)
        out = pd.concat([out, wide], axis=1)
        if self.explainer is not None:
            # explain what the model read (after the bundle's preprocessing), as the Case page does
            out["top_reasons"] = [
                self._reasons(t, lab) if good else "" for t, lab, good in zip(b.model_texts, out["prediction"], ok)
            ]
        safety = safety_frame(b)
        safety.index = chunk.index
        from medviz.text.cant_miss import cant_miss_column

        out["prediction_set"] = safety["prediction_set"]
        # issue 15: named whatever the other flags say; a red flag in the note names its condition whatever its rank
        out["cant_miss"] = cant_miss_column(self.labels, probs, red_flags=b.prepared.red_flags)
        for col in ("out_of_scope", "out_of_scope_score"):
            out[col] = safety[col]
        for col, status in zip(FINDINGS_COLUMNS, FINDING_STATUSES):
            out[col] = b.findings_texts(status)
        out["warnings"] = safety["warnings"]
        out["error"] = [f"{self.text_column}: {e}" if e else "" for e in safety["error"]]
        return out

    def rounded_columns(self) -> list[str]:
        """The columns :meth:`for_csv` writes to 6 decimals: the probabilities and the out-of-scope score."""
        return ["probability", *self._probability_columns(), "out_of_scope_score"]

    def for_csv(self, scored: pd.DataFrame, *, leave: frozenset = frozenset()) -> pd.DataFrame:
        """The scored frame as written to CSV: probabilities and the out-of-scope score to 6 decimals
        (as tabular ``risk``). Full precision stays in memory (evaluation and the page read that);
        the file is a third the size and writes several times faster. ``leave``: columns not rounded here because
        the CSV writer rounds them as it writes (:func:`medviz.scoring.render.write_csv_chunk`'s ``rounded``)."""
        cols = [c for c in self.rounded_columns() if c not in leave]
        dtypes = scored.dtypes  # one Series of dtypes, not one column Series per class (801 cost ~10 ms a chunk)
        cols = [c for c in cols if c in dtypes.index and pd.api.types.is_float_dtype(dtypes[c])]
        if not cols:
            return scored
        rounded = pd.DataFrame(np.round(scored[cols].to_numpy(dtype=np.float64), 6), columns=cols, index=scored.index)
        return pd.concat([scored.drop(columns=cols), rounded], axis=1)[list(scored.columns)]  # one block, not 801

    def _reasons(self, text: str, label: str) -> str:
        from medviz.errors import MedvizError
        from medviz.explain import top_reasons_text

        try:
            return top_reasons_text(self.explainer.explain(text), label)
        except MedvizError:
            return ""
