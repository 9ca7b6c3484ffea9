"""The Model card page: the card rendered natively and its HTML download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from medviz.bundle import ModelBundle
from medviz.errors import MedvizError
from medviz.i18n import _
from medviz.ui.evaluation_views.cached import bundle_digest, model_card
from medviz.ui.common import plain_table
from medviz.ui.evaluation_views.common import md


# ------------------------------------------------------------------------------------------------
# Model card page
# ------------------------------------------------------------------------------------------------


def render_model_card(bundle: ModelBundle) -> None:
    try:
        card, html_text = model_card(str(bundle.path), bundle_digest(bundle))
    except MedvizError as exc:
        st.error(_("The model card cannot be built: {error}").format(error=md(exc)))
        return
    st.download_button(_("Download the model card (HTML)"), html_text.encode("utf-8"),
                       file_name=f"model-card-{bundle.name}-v{bundle.version}.html", mime="text/html",
                       key="model_card_download")
    st.caption(md(card.subtitle))
    for s in card.sections:
        st.subheader(s.title)
        if s.refs:
            st.caption(md(s.refs))
        for b in s.blocks:
            if b.kind == "text":
                st.markdown(md(b.content))
            elif b.kind == "warning":
                st.warning(md(b.content))
            elif b.kind == "list":
                st.markdown("\n".join(f"- {md(i)}" for i in b.content))
            elif b.kind == "facts":
                # st.table wraps long text (a dataframe would cut it off)
                st.table(plain_table(pd.DataFrame({_("Detail"): [str(v) for _k, v in b.content]},
                                                  index=pd.Index([str(k) for k, _v in b.content], name=_("Item")))))
            elif b.kind == "table":
                st.dataframe(b.content.astype(str), hide_index=True, width="stretch")
