"""medviz dashboard entry point: `streamlit run app.py`."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="medviz — clinical model dashboard", page_icon="🩺", layout="wide")

from medviz.ui.common import sidebar_bundle_picker  # noqa: E402  (after set_page_config)

PAGES = {
    "Predict": [
        st.Page("pages/case.py", title="Case", icon="🩺", default=True),
    ],
    "Model": [
        st.Page("pages/evaluation.py", title="Evaluation", icon="📈"),
        st.Page("pages/model_card.py", title="Model card", icon="📄"),
    ],
}

nav = st.navigation(PAGES)
sidebar_bundle_picker()
nav.run()
