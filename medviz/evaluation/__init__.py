"""Evaluate a model on a cohort: labels + scores in, one frozen result with every table out.

* :func:`evaluate_binary` — a risk (tabular bundles, or one diagnosis one-vs-rest): ROC/PR with
  bootstrap CIs, calibration (binned, smoothed with CI, intercept/slope, Brier, ECE), decision curve,
  and the raw arrays so a threshold can be moved without recomputing anything else.
* :func:`evaluate_multiclass` — a text bundle's differential: per-diagnosis table, macro AUC with CI,
  top-1/top-3 accuracy with CIs, confusion matrix, top-label reliability.
* :func:`evaluate_bundle_test` — the bundle's own held-out predictions (internal validation).
* :func:`evaluate_external` — a labelled table from the user, validated and scored like a batch
  (:mod:`medviz.scoring`), then evaluated; with :func:`cohort_shift` against the training data.
* :func:`subgroup_table` — the same figures per group of any column, small groups flagged.
* :func:`diagnosis_context` / :func:`risk_context` — small look-ups for the Case page.

Everything here is pure (no Streamlit); the UI caches the bundle-test evaluation per bundle file hash.
"""
from __future__ import annotations

from medviz.evaluation.results import (  # noqa: F401 (re-exported: the public import path)
    BinaryEvaluation,
    Cohort,
    EXTERNAL,
    Evaluation,
    INTERNAL,
    MulticlassEvaluation,
    evaluate_binary,
    evaluate_multiclass,
    summary_json,
)
from medviz.evaluation.labels import (  # noqa: F401
    FALSE_WORDS,
    TRUE_WORDS,
    binary_labels,
    labels_to_index,
    positive_label,
)
from medviz.evaluation.internal import (  # noqa: F401
    deployed_threshold,
    evaluate_bundle_test,
)
from medviz.evaluation.external import (  # noqa: F401
    ExternalValidation,
    evaluate_external,
    read_labelled_upload,
)
from medviz.evaluation.subgroups import (  # noqa: F401
    MAX_GROUPS,
    MIN_EVENTS,
    SMALL_N,
    SMALL_N_MULTICLASS,
    group_values,
    subgroup_table,
)
from medviz.evaluation.shift import (  # noqa: F401
    CohortShift,
    PSI_MAJOR,
    PSI_MODERATE,
    REFERENCE_FILE,
    psi,
    tabular_shift,
    text_shift,
)
from medviz.evaluation.context import (  # noqa: F401
    diagnosis_context,
    risk_context,
)
