"""The free-text model family: a note in, a ranked differential with its safety checks out."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from medviz.errors import BundleError, MedvizError
from medviz.families.base import FieldSpec, ModelFamily


class TextFamily(ModelFamily):
    task = "text_classification"
    title = "free-text diagnosis suggestions"
    case_view = "medviz.ui.text_case"

    def validate_manifest(self, manifest: Mapping[str, Any], where: str) -> None:
        from medviz.manifest import section

        inputs = section(manifest, "inputs", where)
        seq = inputs.get("sequence_length")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= 100_000):
            raise BundleError(f"{where}: 'inputs.sequence_length' must be a whole number from 1 to 100,000")
        col = inputs.get("text_column")
        if col is not None and (not isinstance(col, str) or len(col) > 500):
            raise BundleError(f"{where}: 'inputs.text_column' must be a column name (text, at most 500 characters)")
        for key in ("conformal", "out_of_scope", "preprocessing", "metrics", "training", "capabilities"):
            section(manifest, key, where)
        try:  # the sections the pipeline reads at every call: refuse a bundle whose settings are unusable
            from medviz.text.safety import SafetyConfig

            SafetyConfig.from_manifest(manifest)
        except MedvizError as exc:
            raise BundleError(f"{where}: {exc}") from None
        except Exception as exc:  # a malformed section (wrong types inside): one message, no values quoted
            raise BundleError(f"{where}: the 'conformal', 'out_of_scope' or 'preprocessing' section is malformed "
                              f"({type(exc).__name__})") from None

    def batch_charts(self, bundle, scored: pd.DataFrame) -> tuple[tuple[str, Any], ...]:
        """Rows per top diagnosis and the histogram of top probabilities."""
        from medviz.charts.batch import label_counts, probability_histogram

        return (("batch_labels", label_counts(scored["prediction"])),
                ("batch_prob", probability_histogram(scored["probability"])))

    def has_attention(self, bundle) -> bool:
        """medviz's text models do; an imported one records ``capabilities.attention = false`` (medviz.importer)."""
        return bool((bundle.manifest.get("capabilities") or {}).get("attention", True))

    def input_spec(self, bundle) -> tuple[FieldSpec, ...]:
        col = (bundle.manifest.get("inputs") or {}).get("text_column") or "text"
        return (FieldSpec(col, "text", "the case as the clinician wrote it (English; any length: long notes are "
                                       "read in overlapping windows)"),)

    def output_spec(self, bundle) -> tuple[FieldSpec, ...]:
        labels = bundle.labels
        return (
            FieldSpec("prediction", "label", "top-1 diagnosis, exactly as in the manifest"),
            FieldSpec("probability", "probability", "its calibrated probability"),
            *(FieldSpec(f"prob_{lab}", "probability", f"calibrated probability of {lab}") for lab in labels),
            FieldSpec("prediction_set", "labels", "conformal set, ranked, '|'-separated"),
            FieldSpec("cant_miss", "string", "can't-miss conditions in the differential (or named by a red flag in "
                                             "the note, with its reason) with their probability, '|'-separated "
                                             "(medviz.text.cant_miss, medviz.text.red_flags)"),
            FieldSpec("out_of_scope", "boolean", "out_of_scope_score above the manifest threshold"),
            FieldSpec("out_of_scope_score", "score", "higher = less like the training cases"),
            FieldSpec("findings_present", "labels", "findings read as present, as written, lower-cased, '|'-separated "
                      "(a bundle with a knowledge-base expert: the expert's reading, under the knowledge base's names)"),
            FieldSpec("findings_absent", "labels", "findings read as absent (negated)"),
            FieldSpec("findings_uncertain", "labels", "findings read as uncertain (hedged)"),
            FieldSpec("warnings", "string", "'; '-separated warnings for the row"),
            FieldSpec("error", "string", "why the row could not be scored (outputs then empty)"),
        )

    def predictor(self, bundle):
        from medviz.text.predict import TextPredictor

        return TextPredictor.from_bundle(bundle)

    def analyse(self, predictor, batch: Sequence[str | None], *, attention: bool = False):
        """:func:`medviz.text.analyse.analyse_texts` (a :class:`~medviz.text.analyse.TextBatch`)."""
        from medviz.text.analyse import analyse_texts

        return analyse_texts(predictor, batch, attention=attention)

    def analyse_one(self, predictor, text: str | None):
        """One case (a batch of one) as the Case page shows it; InputError if it cannot be scored."""
        from medviz.text.analyse import analyse_case

        return analyse_case(predictor, text)

    def scorer(self, bundle, *, predictor=None, text_column: str | None = None, explain: bool | None = None):
        from medviz.scoring.text import TextScorer

        col = text_column or (bundle.manifest.get("inputs") or {}).get("text_column")
        return TextScorer(bundle, col, predictor=predictor, explain=bool(explain))

    def explainer(self, predictor):
        from medviz.explain import TextExplainer

        return TextExplainer.from_predictor(predictor)

    def label_index(self, bundle, labels: pd.Series) -> tuple[np.ndarray, list[str]]:
        from medviz.evaluation.labels import _label_index

        return _label_index(labels, bundle.labels)

    def evaluate(self, bundle, labels: pd.Series, scored: pd.DataFrame, *, cohort, resamples: int, seed: int):
        from medviz.evaluation.internal import _prob_columns
        from medviz.evaluation.labels import labels_to_index
        from medviz.evaluation.results import evaluate_multiclass

        y = labels_to_index(labels, bundle.labels)
        probs = _prob_columns(bundle, scored, "scored data")
        return evaluate_multiclass(y, probs, bundle.labels, cohort=cohort, resamples=resamples, seed=seed)


FAMILY = TextFamily()
