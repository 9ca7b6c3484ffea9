"""Batch scoring of tables (page upload and `python -m medviz score`), chunk by chunk.

Every input row comes out, in order, with its input columns unchanged and the output columns of the
scored-CSV contract (docs/ARCHITECTURE.md). A row that cannot be scored keeps empty outputs and says
why in ``error``; it is never dropped.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterable

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import InputError, SchemaError, UnsupportedBundleError
from medviz.io import iter_csv_chunks

log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of rows done so far


@dataclass(frozen=True)
class ScoreSummary:
    rows: int
    errors: int
    warnings: int


class TextScorer:
    """Scores a text column with a text bundle. Built once per bundle, reused for every chunk."""

    def __init__(self, bundle: ModelBundle, text_column: str, predictor=None, explain: bool = False, explainer=None):
        from medviz.text.predict import TextPredictor

        if not text_column:
            raise InputError("a text bundle needs --text-column: the column that holds the case text")
        self.bundle = bundle
        self.text_column = text_column
        self.predictor = predictor or TextPredictor.from_bundle(bundle)
        self.labels = bundle.labels
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
            "prediction", "probability", *[f"prob_{lab}" for lab in self.labels], *reasons,
            "prediction_set", "out_of_scope", "out_of_scope_score", "warnings", "error",
        ]

    def score(self, chunk: pd.DataFrame) -> pd.DataFrame:
        self.check_columns(chunk.columns)
        texts = chunk[self.text_column].astype(str).str.strip()
        ok = (texts != "").to_numpy()
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

            p, extra = analyse_batch(self.predictor, texts[ok].tolist())
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
        for j, lab in enumerate(self.labels):
            out[f"prob_{lab}"] = probs[:, j]
        if self.explainer is not None:
            out["top_reasons"] = [self._reasons(t, lab) if good else "" for t, lab, good in zip(texts, out["prediction"], ok)]
        for col in ("prediction_set", "out_of_scope", "out_of_scope_score", "warnings"):
            out[col] = safety[col]
        out["error"] = np.where(ok, "", f"{self.text_column}: empty text, nothing to score")
        return out


    def _reasons(self, text: str, label: str) -> str:
        from medviz.errors import MedvizError
        from medviz.explain import top_reasons_text

        try:
            return top_reasons_text(self.explainer.explain(text), label)
        except MedvizError:
            return ""


def make_scorer(bundle: ModelBundle, *, text_column: str | None = None, explain: bool = False):
    if bundle.is_text:
        return TextScorer(bundle, text_column or bundle.manifest.get("inputs", {}).get("text_column", ""), explain=explain)
    raise UnsupportedBundleError(f"bundle '{bundle.name}': scoring is not available for task '{bundle.task}'")


def score_frame(scorer, chunk: pd.DataFrame) -> pd.DataFrame:
    """Input columns unchanged, then the scorer's output columns."""
    out = scorer.score(chunk)
    clash = [c for c in out.columns if c in chunk.columns]
    base = chunk.rename(columns={c: f"input_{c}" for c in clash}) if clash else chunk
    return pd.concat([base, out], axis=1)


def score_csv(
    bundle: ModelBundle,
    source: str | Path | bytes | IO[bytes],
    output: str | Path | IO[str],
    *,
    text_column: str | None = None,
    chunksize: int = 20_000,
    progress: Progress | None = None,
    sanitize: bool = True,
    scorer=None,
    explain: bool = False,
) -> ScoreSummary:
    """Stream ``source`` through the bundle into ``output``; memory stays flat in the file size."""
    from medviz.io import neutralize_formulas

    scorer = scorer or make_scorer(bundle, text_column=text_column, explain=explain)
    rows = errors = warns = 0
    first = True
    out_path = Path(output) if isinstance(output, (str, Path)) else None
    tmp = out_path.with_name(out_path.name + ".part") if out_path else None
    fh = open(tmp, "w", encoding="utf-8", newline="") if tmp else output
    try:
        for chunk in iter_csv_chunks(source, chunksize=chunksize):
            if first:
                scorer.check_columns(chunk.columns)
            scored = score_frame(scorer, chunk)
            if sanitize:
                scored = neutralize_formulas(scored)
            scored.to_csv(fh, index=False, header=first)
            first = False
            rows += len(scored)
            errors += int((scored["error"] != "").sum())
            warns += int((scored["warnings"] != "").sum())
            if progress:
                progress(rows)
        if rows == 0:
            raise InputError("the file has a header but no rows to score")
    except BaseException:
        if tmp:
            fh.close()
            tmp.unlink(missing_ok=True)
        raise
    if tmp:
        fh.close()
        tmp.replace(out_path)
    log.info("scored %d rows (%d errors)", rows, errors)
    return ScoreSummary(rows=rows, errors=errors, warnings=warns)
