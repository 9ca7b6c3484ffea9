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
from medviz.io import read_table
from medviz.ui import cache
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner, plain
from medviz.ui.explain_views import CAVEAT

MAX_TEXT_ROWS = 300  # text SHAP costs ~0.3-1 s per text on this CPU

require_signed_in()

st.title("Explanations")
bundle = current_bundle()
intended_use_banner(bundle)


def _progress_callback(bar, what):
    def cb(done, total):
        bar.progress(min(done / max(total, 1), 1.0), text=f"{what}: {done:,} of {total:,}")
    return cb


def _tabular(bundle):
    try:
        explainer = cache.tabular_explainer(str(bundle.path))
    except MedvizError as exc:
        st.error(f"The explainer cannot be built for this model: {plain(exc)}")
        return
    test = E.test_rows(bundle)
    sources = (["Held-out test set"] if test is not None else []) + ["Uploaded batch"]
    source = st.radio("Rows to explain", sources, horizontal=True, key="explanations_source")
    if source == "Uploaded batch":
        up = st.file_uploader("CSV with the model's feature columns", type=["csv"], key="explanations_upload")
        if up is None:
            st.info("Upload a CSV whose columns are named like the model's features: "
                    + ", ".join(plain(n) for n in explainer.feature_names))
            return
        try:
            frame = read_table(up.getvalue())
            x = E.feature_array(frame, explainer.feature_names, "uploaded file")
        except MedvizError as exc:
            st.error(plain(exc))
            return
        key = ("upload", up.file_id)
    else:
        x = E.feature_array(test, explainer.feature_names, "test set")
        key = ("test", str(bundle.path), bundle.model_sha256)
    stored = st.session_state.get("explanations_result")
    if not stored or stored[0] != key:
        bar = st.progress(0.0, text="Explaining rows…")
        exp = explainer.explain(x, progress=_progress_callback(bar, "rows explained"))
        bar.empty()
        st.session_state["explanations_result"] = (key, exp)
    else:
        exp = stored[1]
    st.caption(
        f"{len(x):,} rows · exact Shapley values on the calibrated probability scale · base value "
        f"{explainer.base_value:.3f} (mean risk over {len(explainer.background)} training patients)."
    )
    left, right = st.columns(2)
    with left:
        st.subheader("Mean |SHAP| importance")
        st.plotly_chart(charts.mean_abs_importance(exp, explainer.specs), width="stretch", key="explanations_importance")
    with right:
        st.subheader("Beeswarm")
        st.plotly_chart(charts.beeswarm(exp, explainer.specs), width="stretch", key="explanations_beeswarm")
    st.subheader("Dependence")
    names = explainer.feature_names
    labels = {s["name"]: (s.get("label") or s["name"]) for s in explainer.specs}
    c1, c2 = st.columns(2)
    feature = c1.selectbox("Feature", names, format_func=labels.get, key="explanations_feature")
    colour = c2.selectbox("Colour by", ["(none)"] + [n for n in names if n != feature],
                          format_func=lambda n: labels.get(n, n), key="explanations_colour")
    st.plotly_chart(charts.dependence(exp, feature, explainer.specs, None if colour == "(none)" else colour),
                    width="stretch", key="explanations_dependence")
    st.info(CAVEAT)


def _text(bundle):
    shipped = E.read_text_importance(bundle)
    sources = (["Shipped with the model (test texts)"] if shipped is not None else []) + ["Uploaded batch"]
    source = st.radio("Texts", sources, horizontal=True, key="explanations_text_source")
    if source == "Uploaded batch":
        up = st.file_uploader(f"CSV with a text column (at most {MAX_TEXT_ROWS} rows are explained)", type=["csv"],
                              key="explanations_text_upload")
        if up is None:
            if shipped is None:
                st.info("This model ships no word table; upload a CSV of cases to compute one.")
            return
        try:
            frame = read_table(up.getvalue())
        except MedvizError as exc:
            st.error(plain(exc))
            return
        cols = list(frame.columns)
        default = bundle.manifest.get("inputs", {}).get("text_column")
        text_col = st.selectbox("Text column", cols, index=cols.index(default) if default in cols else 0,
                                key="explanations_text_column")
        label_col = st.selectbox("True diagnosis column (optional)", ["(none: use the prediction)"] + cols,
                                 key="explanations_label_column")
        if not st.button("Compute word contributions", key="explanations_text_go"):
            stored = st.session_state.get("explanations_text_result")
            if not stored or stored[0] != up.file_id:
                return
            table = stored[1]
        else:
            texts = frame[text_col].astype(str).tolist()[:MAX_TEXT_ROWS]
            labels = None if label_col.startswith("(none") else frame[label_col].astype(str).tolist()[:MAX_TEXT_ROWS]
            if len(frame) > MAX_TEXT_ROWS:
                st.warning(f"Only the first {MAX_TEXT_ROWS} of {len(frame):,} rows are explained.")
            explainer = cache.text_explainer(str(bundle.path))
            bar = st.progress(0.0, text="Explaining texts…")
            table = E.global_text_importance(explainer, texts, labels, progress=_progress_callback(bar, "texts explained"))
            bar.empty()
            st.session_state["explanations_text_result"] = (up.file_id, table)
    else:
        table = shipped
    if table is None or table.empty:
        st.warning("No word appears often enough to report (each word needs at least 2 occurrences).")
        return
    diagnoses = sorted(table["diagnosis"].unique())
    diag = st.selectbox("Diagnosis", diagnoses, key="explanations_diagnosis")
    basis = str(table["basis"].iloc[0]) if "basis" in table else ""
    n = int(table.loc[table["diagnosis"] == diag, "n_texts"].iloc[0])
    st.caption(f"Mean SHAP value (calibrated probability of {plain(diag)}) of each word over the {n} texts whose "
               f"{plain(basis or 'label')} is {plain(diag)}; words seen at least twice.")
    st.plotly_chart(charts.word_importance_chart(table, diag), width="stretch", key="explanations_words")
    st.info(CAVEAT)


if bundle is not None:
    if bundle.is_tabular:
        _tabular(bundle)
    elif bundle.is_text:
        _text(bundle)
    else:
        st.warning(f"'{plain(bundle.name)}' is a {plain(bundle.task)} model; explanations are not available for it.")
