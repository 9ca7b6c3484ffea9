"""All Streamlit caching lives here.

``st.cache_resource`` holds models, predictors and explainers: shared by every session, so they are
never mutated and never hold patient data. Patient inputs and results live only in ``st.session_state``.
"""
from __future__ import annotations

import streamlit as st

from medviz.bundle import ModelBundle, load_bundle


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def bundle(path: str) -> ModelBundle:
    return load_bundle(path)


@st.cache_resource(show_spinner=False, max_entries=8)
def text_predictor(path: str):
    from medviz.text.predict import TextPredictor

    return TextPredictor.from_bundle(bundle(path))
