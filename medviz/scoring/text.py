"""Scorer for text bundles: one chunk of a table's text column in, the text columns of the scored-CSV contract out."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import InputError, SchemaError


class TextScorer:
    """Scores a text column with a text bundle. Built once per bundle, reused for every chunk."""

    chunksize = 20_000  # rows per chunk in score_csv (10,000: 9,219 cases/s; 5,000: 8,259; 20,000: 9,631)

    def __init__(self, bundle: ModelBundle, text_column: str, predictor=None, explain: bool = False, explainer=None,
                 top_k: int | None = None):
        from medviz.text.predict import TextPredictor

        if not text_column:
            raise InputError("a text bundle needs --text-column: the column that holds the case text")
        self.bundle = bundle
        self.text_column = text_column
        self.predictor = predictor or TextPredictor.from_bundle(bundle)
        self.labels = bundle.labels
        self.top_k = top_k  # wide label sets: top_1…top_K (+ probabilities) instead of prob_<label> (issue 15)
        if top_k is not None:
            from medviz.text.wide import check_top_k

            check_top_k(top_k)
        # top_reasons for text costs a SHAP run per row (~0.3 s), so it is opt-in (--explain).
        self.explainer = explainer
        if explain and explainer is None:
            from medviz.explain import TextExplainer

            self.explainer = TextExplainer.from_predictor(self.predictor)

    def check_columns(self, columns: Iterable[str]) -> None:
        columns = list(columns)
        if self.text_column not in columns:
            raise SchemaError(
                f"text column '{self.text_column}' not found; the file has: {', '.join(map(str, columns)) or '(no columns)'}"
            )

    def output_columns(self) -> list[str]:
        reasons = ["top_reasons"] if self.explainer is not None else []
        return [
            "prediction", "probability", *self._probability_columns(), *reasons,
            "prediction_set", "cant_miss", "out_of_scope", "out_of_scope_score", "warnings", "error",
        ]

    def _probability_columns(self) -> list[str]:
        if self.top_k is None:
            return [f"prob_{lab}" for lab in self.labels]
        from medviz.text.wide import top_k_names

        return top_k_names(min(self.top_k, len(self.labels)))

    def prepare(self, chunk: pd.DataFrame) -> list[str]:
        """The texts the model reads for the chunk's non-empty rows (the bundle's preprocessing).

        Split from :meth:`score` so that ``score_csv`` can run this Python work in its reading
        thread while the scoring thread's model call (which releases the GIL) handles the chunk before."""
        from medviz.text.analyse import SafetyConfig
        from medviz.text.preprocess import apply_preprocessing

        self.check_columns(chunk.columns)
        texts = chunk[self.text_column].astype(str).str.strip()
        kind = SafetyConfig.from_manifest(self.bundle.manifest).preprocessing
        return apply_preprocessing(kind, texts[(texts != "").to_numpy()].tolist())

    def score(self, chunk: pd.DataFrame, prepared: list[str] | None = None) -> pd.DataFrame:
        self.check_columns(chunk.columns)
        texts = chunk[self.text_column].astype(str).str.strip()
        ok = (texts != "").to_numpy()
        read = prepared if prepared is not None else (self.prepare(chunk) if ok.any() else [])
        out = pd.DataFrame(index=chunk.index)
        n_cls = len(self.labels)
        probs = np.full((len(chunk), n_cls), np.nan)
        safety = pd.DataFrame(
            {"prediction_set": "", "out_of_scope": pd.array([pd.NA] * len(chunk), dtype="boolean"),
             "out_of_scope_score": np.nan, "warnings": ""},
            index=chunk.index,
        )
        if ok.any():
            from medviz.text.analyse import analyse_batch

            p, extra = analyse_batch(self.predictor, texts[ok].tolist(), model_texts=read)
            probs[ok] = p
            extra.index = chunk.index[ok]
            safety.loc[extra.index, "prediction_set"] = extra["prediction_set"]
            safety.loc[extra.index, "out_of_scope"] = extra["out_of_scope"].astype("boolean")
            safety.loc[extra.index, "out_of_scope_score"] = extra["out_of_scope_score"]
            safety.loc[extra.index, "warnings"] = extra["warnings"]
        top = np.where(ok, np.nanargmax(np.where(np.isnan(probs), -1, probs), axis=1), -1)
        labels = np.asarray(self.labels, dtype=object)
        out["prediction"] = np.where(ok, labels[np.clip(top, 0, None)], "")
        out["probability"] = np.where(ok, probs[np.arange(len(chunk)), np.clip(top, 0, None)], np.nan)
        if self.top_k is None:
            for j, lab in enumerate(self.labels):
                out[f"prob_{lab}"] = probs[:, j]
        else:
            from medviz.text.wide import top_k_columns

            for col, values in top_k_columns(self.labels, probs, self.top_k).items():
                out[col] = values
        if self.explainer is not None:
            # explain what the model read (after the bundle's preprocessing), as the Case page does
            model_text = pd.Series("", index=chunk.index, dtype=object)
            model_text[ok] = read
            out["top_reasons"] = [
                self._reasons(t, lab) if good else "" for t, lab, good in zip(model_text, out["prediction"], ok)
            ]
        from medviz.text.cant_miss import cant_miss_column

        out["prediction_set"] = safety["prediction_set"]
        out["cant_miss"] = cant_miss_column(self.labels, probs)  # issue 15: named whatever the other flags say
        for col in ("out_of_scope", "out_of_scope_score", "warnings"):
            out[col] = safety[col]
        out["error"] = np.where(ok, "", f"{self.text_column}: empty text, nothing to score")
        return out


    def for_csv(self, scored: pd.DataFrame) -> pd.DataFrame:
        """The scored frame as written to CSV: probabilities and the out-of-scope score to 6 decimals
        (as tabular ``risk``). Full precision stays in memory (evaluation and the page read that);
        the file is a third the size and writes several times faster."""
        cols = ["probability", *self._probability_columns(), "out_of_scope_score"]
        cols = [c for c in cols if c in scored.columns and pd.api.types.is_float_dtype(scored[c])]
        return scored.assign(**{c: scored[c].round(6) for c in cols}) if cols else scored

    def _reasons(self, text: str, label: str) -> str:
        from medviz.errors import MedvizError
        from medviz.explain import top_reasons_text

        try:
            return top_reasons_text(self.explainer.explain(text), label)
        except MedvizError:
            return ""
