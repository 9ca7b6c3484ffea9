"""Evaluation and model-card page sections.

Caching (CLINICAL.md S5): only the bundle's own held-out evaluation is cached (``st.cache_data`` keyed
on the bundle path and the SHA-256 of its test-predictions and model files) — that is the model
developer's test data, not a user's patients. An uploaded file and everything computed from it live
only in ``st.session_state`` (key ``evaluation_external``), never in a Streamlit cache.
"""
from __future__ import annotations

from medviz.ui.evaluation_views.common import (  # noqa: F401 (re-exported: the public import path)
    DEDUP_KEY,
    DIAGNOSIS_KEY,
    EXTERNAL_KEY,
    PLOT_CONFIG,
    SUBGROUP_KEY,
    THRESHOLD_KEY,
    UPLOAD_KEY,
    md,
)
from medviz.ui.evaluation_views.cached import (  # noqa: F401
    bundle_digest,
    model_card,
    test_eval_for,
    test_evaluation,
    test_one_vs_rest,
    test_subgroups,
)
from medviz.ui.evaluation_views.page import (  # noqa: F401
    render_evaluation_page,
)
from medviz.ui.evaluation_views.card_page import (  # noqa: F401
    render_model_card,
)
from medviz.ui.evaluation_views.case_context import (  # noqa: F401
    diagnosis_context_caption,
    diagnosis_context_table,
    risk_context_view,
)
