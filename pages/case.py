"""Case: one patient in, a prediction with its context out."""
import streamlit as st

from medviz.i18n import _
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner, plain

require_signed_in()

st.title(_("Case"))
bundle = current_bundle()
intended_use_banner(bundle)
if bundle is not None:
    import importlib

    from medviz.errors import MedvizError

    try:  # the model family of the bundle draws its own form (medviz.families: case_view)
        view = importlib.import_module(bundle.family.case_view)
    except (MedvizError, ImportError):
        st.warning(_("'{name}' is a {task} model; the form for it is not available in this version.").format(
            name=plain(bundle.name), task=plain(bundle.task)))
    else:
        view.render(bundle)
