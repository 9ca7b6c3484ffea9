"""Evaluation: how good the model is, on whose data, for whom — and on your own labelled patients."""
import streamlit as st

from medviz.i18n import _
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner
from medviz.ui.evaluation_views import render_evaluation_page

require_signed_in()

st.title(_("Evaluation"))
bundle = current_bundle()
intended_use_banner(bundle)
if bundle is not None:
    render_evaluation_page(bundle)
