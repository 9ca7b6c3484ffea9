"""Batch: upload a CSV, check it, score every row, filter the result, download it."""
import pandas as pd
import streamlit as st

from medviz.errors import MedvizError
from medviz.families import family_for
from medviz.i18n import N_, _, format_number, translate
from medviz.io import UPLOAD_LIMITS
from medviz.schema import FLAG_KINDS, check_columns, feature_specs
from medviz.scoring import count_lines, make_scorer, likely_text_column, read_columns, score_upload
from medviz.ui import cache
from medviz.ui.audit_hooks import record
from medviz.ui.auth import require_signed_in
from medviz.ui.common import current_bundle, intended_use_banner, plain
from medviz.ui.messages import library_message, term, upload_error

require_signed_in()

RESULT = "batch_result"  # (file id, bundle path, text column) -> ScoredTable
# Filter choices: values compared with the table (English, the scored-CSV contract), labels translated.
BAND_CHOICES = ["low", "medium", "high", "not scored"]
ROW_CHOICES = {"all": N_("all"), "scored": N_("scored"), "not scored": N_("not scored"), "with warnings": N_("with warnings")}
FLAG_NAMES = {"missing": N_("missing"), "imputed": N_("imputed"), "extrapolation": N_("extrapolation"), "invalid": N_("invalid")}

st.title(_("Batch scoring"))
bundle = current_bundle()
intended_use_banner(bundle)
if bundle is None:
    st.stop()

limit_mb = st.get_option("server.maxUploadSize")
st.markdown(_(
    "Upload a CSV file (comma, semicolon or tab separated, decimal commas where the separator is not a comma; "
    "UTF-8, Excel's UTF-16 \"Unicode Text\" or Windows-1252) or a Parquet file of at most **{limit_mb} MB**, "
    "{limits} (checked before the file is read). "
    "Every row is checked, scored when it can be, and kept in the output with the reason when it cannot."
).format(limit_mb=limit_mb, limits=translate(UPLOAD_LIMITS.describe())))
if bundle.is_tabular:
    specs = feature_specs(bundle.manifest)
    st.caption(_("Columns are matched by name. Required: {columns}. Other columns are passed through unchanged.").format(
        columns=", ".join(f"**{plain(s.name)}**" for s in specs)))
upload = st.file_uploader(_("CSV or Parquet file"), type=["csv", "tsv", "txt", "parquet"], key="batch_upload")
if upload is None:
    st.session_state.pop(RESULT, None)
    st.stop()

data = upload.getvalue()
try:
    columns = read_columns(data, name=upload.name)
except MedvizError as exc:
    st.error(plain(upload_error(upload.name, exc)))
    st.stop()

text_column = None
if bundle.is_text:
    default = likely_text_column(data, bundle.manifest.get("inputs", {}).get("text_column"), name=upload.name)
    text_column = st.selectbox(_("Column holding the case text"), columns, index=columns.index(default),
                               key="batch_text_column",
                               help=_("Preselected: the column with the most words in its first rows. Check it before scoring."))
else:
    try:
        check = check_columns(columns, specs)
    except MedvizError as exc:
        st.error(plain(library_message(exc)))
        st.stop()
    if check.unexpected:
        st.info(_("Not used by the model, passed through unchanged: {columns}").format(
            columns=", ".join(f"**{plain(c)}**" for c in check.unexpected)))
    st.success(_("All required columns found: {columns}").format(columns=", ".join(f"**{plain(s.name)}**" for s in specs)))

run_id = (upload.file_id, str(bundle.path), text_column)
if st.button(_("Score file"), type="primary", key="batch_score"):
    total = count_lines(data)
    bar = st.progress(0.0, text=_("Scoring…"))
    try:
        predictor = cache.predictor(str(bundle.path))
        scorer = make_scorer(bundle, text_column=text_column, predictor=predictor)
        result = score_upload(bundle, data, text_column=text_column, scorer=scorer, name=upload.name,
                              progress=lambda n: bar.progress(min(n / total, 1.0), text=_("Scored {n} of ~{total} rows").format(
                                  n=format_number(n), total=format_number(total))))
    except MedvizError as exc:
        bar.empty()
        st.error(plain(upload_error(upload.name, exc)))
        st.stop()
    bar.progress(1.0, text=_("Scored {n} rows").format(n=format_number(result.summary.rows)))
    st.session_state[RESULT] = (run_id, result)
    record("batch_upload", bundle=bundle, input_obj=data, dedupe=False,
           output_summary=f"{result.summary.rows} rows scored, {result.summary.errors} with errors")

stored = st.session_state.get(RESULT)
if not stored or stored[0] != run_id:
    st.stop()
result = stored[1]
df = result.frame
s = result.summary
c1, c2, c3 = st.columns(3)
c1.metric(_("Rows"), format_number(s.rows))
c2.metric(_("Not scored (see `error`)"), format_number(s.errors))
c3.metric(_("With warnings"), format_number(s.warnings))
for note in s.notes:  # how the file was read (encoding, separator, decimal commas): column names are file text
    st.caption(_("File: {note}").format(note=plain(note)))

# Filters (UI choices only; the table itself stays in session state, never in a cache).
mask = pd.Series(True, index=df.index)
f1, f2, f3 = st.columns(3)
if bundle.is_tabular:
    bands = f1.multiselect(_("Risk band"), BAND_CHOICES, key="batch_filter_band", format_func=lambda b: _(ROW_CHOICES.get(b) or term(b)))
    if bands:
        mask &= df["risk_band"].replace("", "not scored").isin(bands)
    flags = f2.multiselect(_("Flag"), list(FLAG_KINDS), key="batch_filter_flag", format_func=lambda f: _(FLAG_NAMES.get(f, f)))
    for kind in flags:
        mask &= df["flags"].str.contains(f"{kind}:", regex=False)
else:
    labels = f1.multiselect(_("Predicted diagnosis"), bundle.labels, key="batch_filter_label")
    if labels:
        mask &= df["prediction"].isin(labels)
only = f3.radio(_("Rows"), list(ROW_CHOICES), horizontal=True, key="batch_filter_rows", format_func=lambda r: _(ROW_CHOICES[r]))
if only == "scored":
    mask &= df["error"] == ""
elif only == "not scored":
    mask &= df["error"] != ""
elif only == "with warnings":
    mask &= df["warnings"] != ""
view = df[mask]
st.caption(_("Showing {shown} of {total} rows. Click a column header to sort.").format(
    shown=format_number(len(view)), total=format_number(len(df))))
config = {}
shown = view
if "risk" in df:
    config["risk"] = st.column_config.NumberColumn(format="percent", help=_("calibrated probability"))  # contract name kept
if "probability" in df:
    # one decimal on every row ("percent" showed 88.1% beside 44.37%)
    shown = view.assign(probability=view["probability"] * 100)
    config["probability"] = st.column_config.NumberColumn(format="%.1f%%")
if bundle.is_text:  # what a clinician reads first before the input columns and the one probability column per class
    front = [c for c in ("prediction", "probability", "cant_miss", "prediction_set", "out_of_scope", "warnings", "error")
             if c in shown.columns]
    shown = shown[front + [c for c in shown.columns if c not in front]]
st.dataframe(shown, hide_index=True, column_config=config, key="batch_table", height=380)

charts = family_for(bundle).batch_charts(bundle, view)  # the family decides how its outputs summarise
for column, (key, figure) in zip(st.columns(max(len(charts), 1)), charts):
    column.plotly_chart(figure, key=key)

name = upload.name.rsplit(".", 1)[0]
st.download_button(_("Download the scored CSV (all rows)"), result.csv, file_name=f"{name}-scored.csv", mime="text/csv",
                   key="batch_download",
                   on_click=lambda: record("export", bundle=bundle, input_obj=data, dedupe=False,
                                           output_summary=f"scored CSV, {s.rows} rows"))
st.caption(_("Cells that a spreadsheet would run as a formula (starting with = + - @, tab or carriage return) are "
             "prefixed with ' in the download. Column names and values in the file are the scored-CSV contract's "
             "(English), whatever the interface language."))
