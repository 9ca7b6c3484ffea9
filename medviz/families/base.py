"""The interface every model family implements (see :mod:`medviz.families`)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import pandas as pd


@dataclass(frozen=True)
class FieldSpec:
    """One input or output field of a family (LIT's ``input_spec`` / ``output_spec`` entries).

    ``kind``: ``text``, ``number``, ``integer``, ``category``, ``probability``, ``label``,
    ``labels`` (a ``|``-separated list), ``boolean``, ``score`` (a real number) or ``string``."""

    name: str
    kind: str
    description: str
    unit: str = ""
    required: bool = True


class ModelFamily(ABC):
    """A kind of model. Stateless: per-bundle state lives in what ``predictor`` / ``scorer`` return."""

    task: ClassVar[str]  # the manifest's "task" value
    title: ClassVar[str]  # e.g. "free-text diagnosis suggestions"
    case_view: ClassVar[str]  # Streamlit module with render(bundle) for the Case page

    @abstractmethod
    def validate_manifest(self, manifest: Mapping[str, Any], where: str) -> None:
        """Check this family's manifest sections (types, ranges); raise BundleError naming the key."""

    @abstractmethod
    def input_spec(self, bundle) -> tuple[FieldSpec, ...]:
        """What one case / one table row must provide."""

    @abstractmethod
    def output_spec(self, bundle) -> tuple[FieldSpec, ...]:
        """The scored-CSV contract columns added after the input columns (docs/ARCHITECTURE.md)."""

    @abstractmethod
    def predictor(self, bundle) -> Any:
        """The bundle's compiled model (built once; the UI caches it with st.cache_resource)."""

    @abstractmethod
    def analyse(self, predictor, batch: Sequence[Any] | pd.DataFrame) -> Any:
        """Every output of the model and its safety checks for a batch; a single case is a batch of one."""

    @abstractmethod
    def scorer(self, bundle, *, predictor=None, text_column: str | None = None, explain: bool | None = None) -> Any:
        """A table scorer: ``check_columns``, ``prepare(chunk)``, ``score(chunk, prepared)``, ``for_csv``,
        ``output_columns``, ``chunksize`` (medviz.scoring runs it over CSV files and uploads)."""

    @abstractmethod
    def evaluate(self, bundle, labels: pd.Series, scored: pd.DataFrame, *, cohort, resamples: int, seed: int) -> Any:
        """The evaluation result (medviz.evaluation) of scored rows against their raw labels."""

    @abstractmethod
    def label_index(self, bundle, labels: pd.Series) -> tuple[Any, list[str]]:
        """Raw labels -> what ``evaluate`` needs, and the values it could not read (for exclusion)."""

    def batch_charts(self, bundle, scored: pd.DataFrame) -> tuple[tuple[str, Any], ...]:
        """The charts that summarise scored rows (the Batch page draws them side by side), as
        ``(widget key, plotly Figure)`` pairs: what a family's outputs look like in aggregate is the
        family's decision, not the page's. ``scored``: the contract columns of ``output_spec``
        (rows that could not be scored included; the charts leave them out). Default: none."""
        return ()

    def has_attention(self, bundle) -> bool:
        """Capability flag: whether the bundle's model exposes attention weights worth drawing."""
        return False

    def explainer(self, predictor) -> Any:
        """Per-case explanations (SHAP); UnsupportedBundleError when the family cannot explain."""
        from medviz.errors import UnsupportedBundleError

        raise UnsupportedBundleError(f"no explanations for {self.task} models")
