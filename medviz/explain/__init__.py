"""SHAP and attention explanations for both model families; every result is a ``shap.Explanation``.

Text (per case)
    :class:`TextExplainer` runs shap's Partition explainer (Owen values over shap's token
    hierarchy) with a ``shap.maskers.Text`` masker whose tokenizer is the model's own regex
    (:data:`medviz.text.layers.TOKEN_PATTERN`), so every SHAP feature is exactly one word the
    model reads. A masked word is deleted (the masker's "..." is a separator for the model). The
    model behind it is one compiled ``tf.function`` fed the whole batch of masked strings; it
    trims the trailing padding columns the vectorizer adds (the masked BiGRU gives the same
    probabilities, checked against :class:`TextPredictor` when it is built), which halves the cost
    of the recurrent layer for short cases. Values are on the calibrated probability scale for
    every class; the base value is the model's output with every word masked (an empty text).

Tabular (per row and global)
    :class:`TabularExplainer` computes **exact** interventional Shapley values on the probability
    scale (model output 0): for F features it evaluates the model on all 2^F coalitions of each row
    against a background sample of the bundle's training rows (``reference.csv``), averaged over
    the background, and combines them with the Shapley weights in one matrix product. With F = 7 that
    is 128 coalitions; the masked rows are built inside the compiled function, so 10,000 rows take a
    few seconds. The base value is the mean risk over the background.

Both satisfy additivity: base value + sum of SHAP values == model output (tested to 1e-4).
"""
from __future__ import annotations

from medviz.explain.common import (  # noqa: F401 (re-exported: the public import path)
    Progress,
    SCALE_NOTE,
    class_index,
    for_class,
    model_output,
)
from medviz.explain.text import (  # noqa: F401
    ModelTokenizer,
    TextCaseExplanation,
    TextExplainer,
    attention_explanation,
    check_explainable,
    explain_text_case,
    trimmed_probability_function,
)
from medviz.explain.checks import (  # noqa: F401
    deletion_check,
    rank_agreement,
)
from medviz.explain.importance import (  # noqa: F401
    TEXT_IMPORTANCE_FILE,
    global_text_importance,
    read_text_importance,
)
from medviz.explain.tabular import (  # noqa: F401
    REFERENCE_FILE,
    TabularExplainer,
    feature_array,
    load_background,
    shapley_weight_matrix,
    test_rows,
)
from medviz.explain.reasons import (  # noqa: F401
    _reference_top_reasons,
    format_value,
    top_reasons_array,
    top_reasons_tabular,
    top_reasons_text,
)
