"""Case: one patient in, a prediction with its context out."""
import streamlit as st

from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner, plain

require_signed_in()

st.title("Case")
bundle = current_bundle()
intended_use_banner(bundle)
if bundle is not None and bundle.is_text:
    from medviz.ui import text_case

    text_case.render(bundle)
elif bundle is not None and bundle.is_tabular:
    from medviz.ui import tabular_case

    tabular_case.render(bundle)
elif bundle is not None:
    st.warning(f"'{plain(bundle.name)}' is a {plain(bundle.task)} model; the form for it is not available in this version.")
