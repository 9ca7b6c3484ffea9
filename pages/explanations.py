"""Explanations: what drives the model across many patients (global SHAP).

Tabular: mean |SHAP|, beeswarm and dependence plot, on the bundle's test rows or on an uploaded
batch. Text: the words with the largest mean contribution per diagnosis, from the table shipped in
the bundle (computed on the held-out test texts) or from an uploaded batch. An upload lives in
st.session_state only.
"""
import streamlit as st

from medviz import explain as E
from medviz.charts import explain as charts
from medviz.errors import MedvizError
from medviz.i18n import N_, _, format_number
from medviz.io import read_table
from medviz.ui import cache
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner, plain
from medviz.ui.messages import library_message
from medviz.ui.explain_views import CAVEAT

MAX_TEXT_ROWS = 300  # text SHAP costs ~0.3-1 s per text on this CPU
# Radio choices: the value is the English key, the label is translated.
TEST_SET, UPLOADED, SHIPPED, NO_COLOUR = (N_("Held-out test set"), N_("Uploaded batch"),
                                          N_("Shipped with the model (test texts)"), N_("(none)"))
NO_LABEL = N_("(none: use the prediction)")
BASIS = {"true label": N_("true label"), "predicted label": N_("predicted label")}

require_signed_in()

st.title(_("Explanations"))
bundle = current_bundle()
intended_use_banner(bundle)


def _progress_callback(bar, what):
    def cb(done, total):
        bar.progress(min(done / max(total, 1), 1.0), text=_("{what}: {done} of {total}").format(
            what=what, done=format_number(done), total=format_number(total)))
    return cb


def _tabular(bundle):
    try:
        explainer = cache.tabular_explainer(str(bundle.path))
    except MedvizError as exc:
        st.error(_("The explainer cannot be built for this model: {reason}").format(reason=plain(library_message(exc))))
        return
    test = E.test_rows(bundle)
    sources = ([TEST_SET] if test is not None else []) + [UPLOADED]
    source = st.radio(_("Rows to explain"), sources, horizontal=True, key="explanations_source", format_func=_)
    if source == UPLOADED:
        up = st.file_uploader(_("CSV with the model's feature columns"), type=["csv"], key="explanations_upload")
        if up is None:
            st.info(_("Upload a CSV whose columns are named like the model's features: {names}").format(
                names=", ".join(plain(n) for n in explainer.feature_names)))
            return
        try:
            frame = read_table(up.getvalue())
            x = E.feature_array(frame, explainer.feature_names, "uploaded file")
        except MedvizError as exc:
            st.error(plain(library_message(exc)))
            return
        key = ("upload", up.file_id)
    else:
        x = E.feature_array(test, explainer.feature_names, "test set")
        key = ("test", str(bundle.path), bundle.model_sha256)
    stored = st.session_state.get("explanations_result")
    if not stored or stored[0] != key:
        bar = st.progress(0.0, text=_("Explaining rows…"))
        exp = explainer.explain(x, progress=_progress_callback(bar, _("rows explained")))
        bar.empty()
        st.session_state["explanations_result"] = (key, exp)
    else:
        exp = stored[1]
    st.caption(_(
        "{n} rows · exact Shapley values on the calibrated probability scale · base value "
        "{base} (mean risk over {background} training patients)."
    ).format(n=format_number(len(x)), base=format_number(explainer.base_value, 3), background=len(explainer.background)))
    left, right = st.columns(2)
    with left:
        st.subheader(_("Mean |SHAP| importance"))
        st.plotly_chart(charts.mean_abs_importance(exp, explainer.specs), width="stretch", key="explanations_importance")
    with right:
        st.subheader(_("Beeswarm"))
        st.plotly_chart(charts.beeswarm(exp, explainer.specs), width="stretch", key="explanations_beeswarm")
    st.subheader(_("Dependence"))
    names = explainer.feature_names
    labels = {s["name"]: (s.get("label") or s["name"]) for s in explainer.specs}
    c1, c2 = st.columns(2)
    feature = c1.selectbox(_("Feature"), names, format_func=labels.get, key="explanations_feature")
    colour = c2.selectbox(_("Colour by"), [NO_COLOUR] + [n for n in names if n != feature],
                          format_func=lambda n: _(NO_COLOUR) if n == NO_COLOUR else labels.get(n, n), key="explanations_colour")
    st.plotly_chart(charts.dependence(exp, feature, explainer.specs, None if colour == NO_COLOUR else colour),
                    width="stretch", key="explanations_dependence")
    st.info(_(CAVEAT))


def _text(bundle):
    shipped = E.read_text_importance(bundle)
    sources = ([SHIPPED] if shipped is not None else []) + [UPLOADED]
    source = st.radio(_("Texts"), sources, horizontal=True, key="explanations_text_source", format_func=_)
    if source == UPLOADED:
        up = st.file_uploader(_("CSV with a text column (at most {n} rows are explained)").format(n=MAX_TEXT_ROWS),
                              type=["csv"], key="explanations_text_upload")
        if up is None:
            if shipped is None:
                st.info(_("This model ships no word table; upload a CSV of cases to compute one."))
            return
        try:
            frame = read_table(up.getvalue())
        except MedvizError as exc:
            st.error(plain(library_message(exc)))
            return
        cols = list(frame.columns)
        default = bundle.manifest.get("inputs", {}).get("text_column")
        text_col = st.selectbox(_("Text column"), cols, index=cols.index(default) if default in cols else 0,
                                key="explanations_text_column")
        label_col = st.selectbox(_("True diagnosis column (optional)"), [NO_LABEL] + cols,
                                 key="explanations_label_column", format_func=lambda c: _(NO_LABEL) if c == NO_LABEL else c)
        if not st.button(_("Compute word contributions"), key="explanations_text_go"):
            stored = st.session_state.get("explanations_text_result")
            if not stored or stored[0] != up.file_id:
                return
            table = stored[1]
        else:
            texts = frame[text_col].astype(str).tolist()[:MAX_TEXT_ROWS]
            labels = None if label_col == NO_LABEL else frame[label_col].astype(str).tolist()[:MAX_TEXT_ROWS]
            if len(frame) > MAX_TEXT_ROWS:
                st.warning(_("Only the first {n} of {total} rows are explained.").format(
                    n=MAX_TEXT_ROWS, total=format_number(len(frame))))
            explainer = cache.text_explainer(str(bundle.path))
            bar = st.progress(0.0, text=_("Explaining texts…"))
            table = E.global_text_importance(explainer, texts, labels, progress=_progress_callback(bar, _("texts explained")))
            bar.empty()
            st.session_state["explanations_text_result"] = (up.file_id, table)
    else:
        table = shipped
    if table is None or table.empty:
        st.warning(_("No word appears often enough to report (each word needs at least 2 occurrences)."))
        return
    diagnoses = sorted(table["diagnosis"].unique())
    # opens on the diagnosis with the most texts behind it (the first by name over 801 labels had 2), each option
    # with its number of texts
    counts = table.groupby("diagnosis")["n_texts"].first()
    most = max(diagnoses, key=lambda d: int(counts[d]))  # the first by name among ties
    diag = st.selectbox(_("Diagnosis"), diagnoses, index=diagnoses.index(most), key="explanations_diagnosis",
                        format_func=lambda d: f"{d} (n = {int(counts[d])})")
    basis = str(table["basis"].iloc[0]) if "basis" in table else ""
    n = int(table.loc[table["diagnosis"] == diag, "n_texts"].iloc[0])
    st.caption(_("Mean SHAP value (calibrated probability of {diagnosis}) of each word over the {n} texts whose "
                 "{basis} is {diagnosis}; words seen at least twice.").format(
        diagnosis=plain(diag), n=n, basis=plain(_(BASIS.get(basis, basis)) if basis else _("label"))))
    st.plotly_chart(charts.word_importance_chart(table, diag), width="stretch", key="explanations_words")
    st.info(_(CAVEAT))


if bundle is not None:
    if bundle.is_tabular:
        _tabular(bundle)
    elif bundle.is_text:
        _text(bundle)
    else:
        st.warning(_("'{name}' is a {task} model; explanations are not available for it.").format(
            name=plain(bundle.name), task=plain(bundle.task)))
