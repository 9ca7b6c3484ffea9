"""The cached evaluations: only the bundle's own held-out test data (st.cache_data keyed on path + file digests)."""

from __future__ import annotations

import hashlib

import streamlit as st

from medviz import evaluation as E
from medviz.bundle import TEST_PREDICTIONS_FILE, ModelBundle
from medviz.ui import cache


def bundle_digest(bundle: ModelBundle) -> str:
    files = bundle.manifest.get("files") or {}
    return hashlib.sha256(
        (files.get(TEST_PREDICTIONS_FILE, "") + files.get("model.keras", "") + bundle.version).encode()
    ).hexdigest()


# ------------------------------------------------------------------------------------------------
# Cached, bundle-only computations (no user data)
# ------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner="Evaluating the held-out test set (1,000 bootstrap resamples)…", max_entries=32)
def test_evaluation(path: str, digest: str, deduplicated: bool = False):
    return E.evaluate_bundle_test(cache.bundle(path), deduplicated=deduplicated)


@st.cache_data(show_spinner="Evaluating this diagnosis one-vs-rest…", max_entries=128)
def test_one_vs_rest(path: str, digest: str, label: str, deduplicated: bool = False):
    return test_evaluation(path, digest, deduplicated).one_vs_rest(label)


@st.cache_data(show_spinner="Computing subgroup figures…", max_entries=64)
def test_subgroups(path: str, digest: str, column: str, label: str | None = None, deduplicated: bool = False):
    bundle = cache.bundle(path)
    ev = test_evaluation(path, digest, deduplicated)
    if label is not None:
        ev = ev.one_vs_rest(label)
    tp = bundle.test_predictions
    if deduplicated and "near_duplicate" in tp.columns:
        tp = tp[~tp["near_duplicate"].astype(str).str.lower().isin(("true", "1"))]
    return E.subgroup_table(ev, tp[column].astype(str))


@st.cache_data(show_spinner="Writing the model card…", max_entries=16)
def model_card(path: str, digest: str):
    from medviz.modelcard import build_model_card, render_html

    bundle = cache.bundle(path)
    card = build_model_card(bundle, test_evaluation(path, digest))
    return card, render_html(card)


def test_eval_for(bundle: ModelBundle, deduplicated: bool = False):
    return test_evaluation(str(bundle.path), bundle_digest(bundle), deduplicated)
