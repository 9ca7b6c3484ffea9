"""External validation on the Evaluation page: upload, pick columns, evaluate; the result lives in session state only."""

from __future__ import annotations

import hashlib

import streamlit as st

from medviz import evaluation as E
from medviz.bundle import ModelBundle
from medviz.errors import MedvizError
from medviz.i18n import _, format_number
from medviz.ui import cache
from medviz.ui.evaluation_views.common import EXTERNAL_KEY, UPLOAD_KEY, md


# --- external validation upload --------------------------------------------------------------------


def _scorer(bundle: ModelBundle, text_column: str | None):
    """The family's scorer over the cached model: external validation scores rows like the Batch page."""
    from medviz.scoring import make_scorer

    return make_scorer(bundle, text_column=text_column, predictor=cache.predictor(str(bundle.path)))


def _external_section(bundle: ModelBundle):
    """Upload + column pickers; returns the ExternalValidation for this bundle held in session state, or None."""
    held = st.session_state.get(EXTERNAL_KEY)
    with st.expander(_("External validation: evaluate the model on your own labelled patients"),
                     expanded=held is None or held[0] != str(bundle.path)):
        st.caption(_("Upload a CSV with the model's inputs and the true outcome. It is checked and scored like a batch "
                     "and evaluated here, beside the test figures. The file stays in your session only."))
        up = st.file_uploader(_("Labelled CSV"), type=["csv"], key=UPLOAD_KEY)
        if up is not None:
            data = up.getvalue()
            digest = hashlib.sha256(data).hexdigest()
            try:
                table = E.read_labelled_upload(data)
            except MedvizError as exc:
                st.error(md(exc))
                return None
            cols = list(map(str, table.columns))
            default_label = next((i for i, c in enumerate(cols) if c.lower() in ("label", "outcome", "y", "y_true", "diagnosis",
                                  "output_text", "type", str((bundle.manifest.get("outcome") or {}).get("column", "")).lower())), 0)
            label_col = st.selectbox(_("Column with the true outcome"), cols, index=default_label, key="evaluation_label_column")
            text_col = None
            if bundle.is_text:
                want = (bundle.manifest.get("inputs") or {}).get("text_column")
                text_col = st.selectbox(_("Column with the case text"), cols, index=cols.index(want) if want in cols else 0,
                                        key="evaluation_text_column")
            if st.button(_("Evaluate on this file"), type="primary", key="evaluation_run"):
                st.session_state.pop(EXTERNAL_KEY, None)
                try:
                    with st.spinner(_("Scoring {n} rows and bootstrapping…").format(n=format_number(len(table)))):
                        result = E.evaluate_external(bundle, table, label_col, text_column=text_col,
                                                     scorer=_scorer(bundle, text_col))
                except MedvizError as exc:
                    st.error(md(exc))
                    return None
                st.session_state[EXTERNAL_KEY] = (str(bundle.path), digest, label_col, text_col, result)
                from medviz.ui.audit_hooks import record

                record("evaluation_upload", bundle=bundle, input_obj=table, dedupe=False,
                       output_summary=f"{len(table)} labelled rows evaluated")
                held = st.session_state[EXTERNAL_KEY]
        elif held is not None:
            st.session_state.pop(EXTERNAL_KEY, None)
            held = None
    if held is None or held[0] != str(bundle.path):
        return None
    result = held[4]
    for n in result.notes:
        st.warning(md(n))
    return result
