"""The tabular risk family: one row of measurements in, a calibrated risk with its band, flags and reasons out."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from medviz.errors import BundleError, MedvizError
from medviz.families.base import FieldSpec, ModelFamily


class TabularFamily(ModelFamily):
    task = "tabular_binary"
    title = "tabular risk estimate"
    case_view = "medviz.ui.tabular_case"

    def validate_manifest(self, manifest: Mapping[str, Any], where: str) -> None:
        from medviz.manifest import section
        from medviz.schema import feature_specs
        from medviz.tabular.predict import RiskBands

        if len(manifest["labels"]) != 2:
            raise BundleError(f"{where}: a {self.task} bundle needs exactly 2 labels, got {len(manifest['labels'])}")
        feats = section(manifest, "inputs", where).get("features")
        if not isinstance(feats, list) or not feats or not all(isinstance(f, dict) for f in feats):
            raise BundleError(f"{where}: 'inputs.features' must be a non-empty list of feature objects")
        for key in ("risk_bands", "metrics", "training", "outcome"):
            section(manifest, key, where)
        try:  # what the Case page and the scorer read: refuse a bundle whose specs are unusable
            feature_specs(manifest)
            if manifest.get("risk_bands") is not None:
                RiskBands.from_manifest(manifest)
        except MedvizError as exc:
            raise BundleError(f"{where}: {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:  # wrong types inside a spec; no values quoted
            raise BundleError(f"{where}: 'inputs.features' holds a malformed feature spec ({type(exc).__name__})") from None

    def input_spec(self, bundle) -> tuple[FieldSpec, ...]:
        from medviz.schema import INTEGER, feature_specs

        return tuple(FieldSpec(s.name, "integer" if s.type == INTEGER else "number", s.description or s.display,
                               unit=s.unit, required=False) for s in feature_specs(bundle.manifest))

    def output_spec(self, bundle) -> tuple[FieldSpec, ...]:
        return (
            FieldSpec("risk", "probability", "calibrated probability of the outcome"),
            FieldSpec("risk_band", "category", "low / medium / high"),
            FieldSpec("flags", "string", "kind:feature joined by '; ' (imputed, extrapolation, invalid)"),
            FieldSpec("top_reasons", "string", "three strongest SHAP contributions with sign"),
            FieldSpec("warnings", "string", "anything else about the row"),
            FieldSpec("error", "string", "why the row could not be scored (outputs then empty)"),
        )

    def predictor(self, bundle):
        from medviz.tabular.predict import TabularPredictor

        return TabularPredictor.from_bundle(bundle)

    def analyse(self, predictor, batch: pd.DataFrame):
        """The scored-CSV columns for a frame of feature rows (a single case is a frame of one row)."""
        from medviz.scoring.tabular import TabularScorer

        return TabularScorer(predictor.bundle, predictor=predictor).score(batch)

    def scorer(self, bundle, *, predictor=None, text_column: str | None = None, explain: bool | None = None):
        from medviz.scoring.tabular import TabularScorer

        return TabularScorer(bundle, predictor=predictor, explain=True if explain is None else explain)

    def batch_charts(self, bundle, scored: pd.DataFrame) -> tuple[tuple[str, Any], ...]:
        """The histogram of calibrated risks with the band cut-points, and rows per risk band."""
        from medviz.charts.batch import band_counts, risk_histogram

        cuts = bundle.manifest["risk_bands"]["cut_points"]
        return (("batch_hist", risk_histogram(scored["risk"], cuts)), ("batch_bands", band_counts(scored["risk_band"])))

    def explainer(self, predictor):
        from medviz.explain import TabularExplainer

        return TabularExplainer.from_bundle(predictor.bundle)

    def label_index(self, bundle, labels: pd.Series) -> tuple[np.ndarray, list[str]]:
        from medviz.evaluation.labels import _binary_labels

        return _binary_labels(labels, bundle)

    def evaluate(self, bundle, labels: pd.Series, scored: pd.DataFrame, *, cohort, resamples: int, seed: int):
        from dataclasses import replace

        from medviz.evaluation.internal import deployed_threshold
        from medviz.evaluation.labels import binary_labels, positive_label
        from medviz.evaluation.results import evaluate_binary

        y = binary_labels(labels, bundle)
        risk = pd.to_numeric(scored["risk"], errors="coerce").to_numpy(dtype=float)
        thr, why = deployed_threshold(bundle)
        cohort = replace(cohort, events=int(y.sum()), prevalence=float(y.mean()))
        return evaluate_binary(y, risk, positive_label=positive_label(bundle), cohort=cohort, threshold=thr,
                               threshold_source=why, resamples=resamples, seed=seed)


FAMILY = TabularFamily()
