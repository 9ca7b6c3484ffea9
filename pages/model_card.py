"""Model card: what the model is, what it is for, how it was built and validated, and its limits."""
import streamlit as st

from medviz.i18n import _
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner
from medviz.ui.evaluation_views import render_model_card

require_signed_in()

st.title(_("Model card"))
bundle = current_bundle()
intended_use_banner(bundle)
if bundle is not None:
    render_model_card(bundle)
