"""All Streamlit caching lives here.

``st.cache_resource`` holds models, predictors and explainers: shared by every session, so they are
never mutated and never hold patient data. Patient inputs and results live only in ``st.session_state``.
"""
from __future__ import annotations

import streamlit as st

from medviz.bundle import ModelBundle, load_bundle
from medviz.i18n import N_, LazyStr


@st.cache_resource(show_spinner=LazyStr(N_("Loading model…")), max_entries=8)
def bundle(path: str) -> ModelBundle:
    return load_bundle(path)


@st.cache_resource(show_spinner=False, max_entries=8)
def predictor(path: str):
    """The bundle's compiled model, built by its model family (medviz.families)."""
    b = bundle(path)
    return b.family.predictor(b)


def text_predictor(path: str):
    return predictor(path)


@st.cache_resource(show_spinner=LazyStr(N_("Preparing the text explainer…")), max_entries=4)
def text_explainer(path: str):
    """Partition-SHAP explainer over the compiled model function (no patient data inside)."""
    from medviz.explain import TextExplainer

    return TextExplainer.from_predictor(text_predictor(path))


@st.cache_resource(show_spinner=LazyStr(N_("Preparing the tabular explainer…")), max_entries=4)
def tabular_explainer(path: str):
    """Exact-Shapley explainer with its background sample of the bundle's training rows."""
    from medviz.explain import TabularExplainer

    return TabularExplainer.from_bundle(bundle(path))


def tabular_predictor(path: str):
    return predictor(path)
