"""The cached evaluations: only the bundle's own held-out test data (st.cache_data keyed on path + file digests).

The caches are shared by every session, whatever its language: they hold numbers, never translated text,
except :func:`model_card`, whose key includes the language. Spinner texts are ``LazyStr(N_(…))``: translated
when shown, in the session's language.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from medviz import evaluation as E
from medviz.bundle import TEST_PREDICTIONS_FILE, ModelBundle
from medviz.i18n import N_, LazyStr, current_language, use_language
from medviz.ui import cache


def bundle_digest(bundle: ModelBundle) -> str:
    files = bundle.manifest.get("files") or {}
    return hashlib.sha256(
        (files.get(TEST_PREDICTIONS_FILE, "") + files.get("model.keras", "") + bundle.version).encode()
    ).hexdigest()


# ------------------------------------------------------------------------------------------------
# Cached, bundle-only computations (no user data)
# ------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner=LazyStr(N_("Evaluating the held-out test set (1,000 bootstrap resamples)…")), max_entries=32)
def test_evaluation(path: str, digest: str, deduplicated: bool = False):
    return E.evaluate_bundle_test(cache.bundle(path), deduplicated=deduplicated)


@st.cache_data(show_spinner=LazyStr(N_("Evaluating this diagnosis one-vs-rest…")), max_entries=128)
def test_one_vs_rest(path: str, digest: str, label: str, deduplicated: bool = False):
    return test_evaluation(path, digest, deduplicated).one_vs_rest(label)


@st.cache_data(show_spinner=LazyStr(N_("Computing subgroup figures…")), max_entries=64)
def test_subgroups(path: str, digest: str, column: str, label: str | None = None, deduplicated: bool = False):
    bundle = cache.bundle(path)
    ev = test_evaluation(path, digest, deduplicated)
    if label is not None:
        ev = ev.one_vs_rest(label)
    tp = bundle.test_predictions
    if deduplicated and "near_duplicate" in tp.columns:
        tp = tp[~tp["near_duplicate"].astype(str).str.lower().isin(("true", "1"))]
    return E.subgroup_table(ev, tp[column].astype(str))


@st.cache_data(show_spinner=LazyStr(N_("Writing the model card…")), max_entries=16)
def _model_card(path: str, digest: str, language: str):
    from medviz.modelcard import build_model_card, render_html

    bundle = cache.bundle(path)
    evaluation = test_evaluation(path, digest)
    with use_language(language):  # the card's text is in ``language``, part of the cache key
        card = build_model_card(bundle, evaluation)
        return card, render_html(card)


def model_card(path: str, digest: str, language: str | None = None):
    """(ModelCard, its HTML) in ``language`` (default: the session's), cached per bundle version and language."""
    return _model_card(path, digest, language or current_language())


def test_eval_for(bundle: ModelBundle, deduplicated: bool = False):
    return test_evaluation(str(bundle.path), bundle_digest(bundle), deduplicated)
