"""Per-case explanation sections the Case page calls (text and tabular).

Explainers come from ``st.cache_resource`` (medviz.ui.cache: built once per bundle, no patient
data inside); a case's explanation is kept in ``st.session_state`` only, keyed by a hash of the
input, so changing the diagnosis shown does not recompute it.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import streamlit as st

from medviz.bundle import ModelBundle
from medviz.charts import explain as charts
from medviz.errors import MedvizError
from medviz.i18n import N_, _, current_language, ngettext
from medviz.ui import cache
from medviz.ui.common import plain

TEXT_RESULT_KEY = "case_explain_text"  # (key, TextCaseExplanation)
TEXT_LABEL_KEY = "case_explain_label"
TABULAR_RESULT_KEY = "case_explain_tabular"  # (key, Explanation)

# Shown with _(CAVEAT) / _(ATTENTION_CAVEAT): translated per session, never at import.
CAVEAT = N_(
    "**How to read this.** SHAP values describe how *this model* used the words or values it was given "
    "(on the calibrated probability scale, from the base value to this output). They describe the model, "
    "not the patient, and they are not causes: a large contribution is not evidence that a symptom or value "
    "causes the condition, nor that the model is right."
)
ATTENTION_CAVEAT = N_(
    "Attention shows where the model looked, not why it decided: attention weights are not by themselves an "
    "explanation (Jain & Wallace 2019). Compare them with SHAP using the agreement and deletion checks below."
)


def _key(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def render_text_explanation(bundle: ModelBundle, text: str, predicted_label_options: Sequence[str]) -> None:
    """Why the model suggests a diagnosis for ``text``: SHAP words, attention, agreement, deletion check.

    ``predicted_label_options``: the differential, top diagnosis first; the clinician picks which one
    to explain (default: the top one).
    """
    from medviz.explain import deletion_check, explain_text_case, for_class, rank_agreement

    options = [str(o) for o in predicted_label_options] or list(bundle.labels)
    st.subheader(_("Why: word contributions (SHAP)"))
    key = _key(bundle.path, bundle.model_sha256, text)
    stored = st.session_state.get(TEXT_RESULT_KEY)
    if not stored or stored[0] != key:
        try:
            with st.spinner(_("Computing SHAP values for every word…")):
                explainer = cache.text_explainer(str(bundle.path))
                result = explain_text_case(explainer, text)
        except MedvizError as exc:
            st.warning(_("No explanation for this text: {error}").format(error=plain(exc)))
            return
        st.session_state[TEXT_RESULT_KEY] = (key, result)
        from medviz.ui.audit_hooks import record

        record("explanation_view", bundle=bundle, input_obj=text, output_summary="text SHAP + attention")
    else:
        result = stored[1]
    explainer = cache.text_explainer(str(bundle.path))

    label = st.selectbox(
        _("Explain the diagnosis"), options, index=0, key=TEXT_LABEL_KEY,
        help=_("The top diagnosis by default; pick any other from the differential."),
        format_func=lambda lab: bundle.display_label(lab, current_language()),  # the bundle's names in this language
    )
    shown = bundle.display_label(label, current_language())
    if label not in bundle.labels:
        st.warning(_("'{label}' is not one of the model's diagnoses.").format(label=plain(label)))
        return
    j = bundle.labels.index(label)
    exp_c = for_class(result.shap, label)
    base = float(result.shap.base_values[j])
    prob = float(result.probabilities[j])
    st.caption(
        _("Scale: calibrated probability of **{label}**. Base value (every word removed) = {base}; the word "
          "contributions add up to this case's probability {probability}. Red words push towards {label}, blue words "
          "away from it.").format(label=plain(shown), base=f"{base:.3f}", probability=f"{prob:.3f}")
    )
    if bundle.manifest.get("knowledge_base_expert"):
        st.caption(_("This bundle multiplies the network's probabilities with a knowledge-base expert (naive Bayes over "
                     "the symptom table): SHAP and attention explain the network part only, so this probability can "
                     "differ from the one in the ranked differential."))
    # st.html, not st.markdown: the case text inside must not be read as Markdown (a blank line in it
    # would end the HTML block and turn the rest into Markdown, images included).
    st.html(f'<div style="line-height: 2; font-size: 1.05rem">{charts.text_shap_html(result.shap, label, result.unread_tail)}</div>')
    if result.words_not_read:
        st.caption(ngettext("{n} word after the {limit} words the model reads was not read (grey).",
                            "{n} words after the {limit} words the model reads were not read (grey).",
                            result.words_not_read).format(n=result.words_not_read, limit=explainer.seq_len))
    st.plotly_chart(charts.word_bar(result.shap, label), width="stretch", config={"displayModeBar": False},
                    key="case_explain_word_bar")

    from medviz.families import family_for

    attention = family_for(bundle).has_attention(bundle)  # imported models may expose none
    if attention:
        st.subheader(_("Attention over the same words"))
        st.html(f'<div style="line-height: 2; font-size: 1.05rem">{charts.attention_html(result.attention)}</div>')
        st.caption(_(ATTENTION_CAVEAT))

    st.subheader(_("How far to trust these explanations"))
    if attention:
        agree = rank_agreement(exp_c.values, result.attention.values)
        c1, c2, c3 = st.columns(3)
        c1.metric(_("Spearman ρ (|SHAP| vs attention)"), _("n/a") if np.isnan(agree["spearman"]) else f"{agree['spearman']:.2f}")
        c2.metric(_("Kendall τ (|SHAP| vs attention)"), _("n/a") if np.isnan(agree["kendall"]) else f"{agree['kendall']:.2f}")
        c3.metric(_("Words compared"), agree["n_words"])
    with st.spinner(_("Running the deletion check…")):
        table = deletion_check(explainer, result.shap, result.attention, label)
    if not attention:
        table = table[table["method"] != "attention"]
    k = int(min(5, table["k"].max()))
    at_k = table[table["k"] == k].set_index("method")["drop"]
    drops = {m: f"{at_k.get(m, float('nan')):.3f}" for m in ("SHAP", "attention", "random")}
    st.markdown(
        (_("Removing the top {k} SHAP words lowers P({label}) by **{shap}**; the top {k} attention words by "
           "**{attention}**; {k} random words by **{random}** on average ({draws} seeded draws).") if attention else
         _("Removing the top {k} SHAP words lowers P({label}) by **{shap}**; {k} random words by **{random}** on "
           "average ({draws} seeded draws)."))
        .format(k=k, label=plain(shown), shap=drops["SHAP"], attention=drops["attention"], random=drops["random"],
                draws=table.attrs.get("n_random"))
    )
    st.plotly_chart(charts.deletion_chart(table), width="stretch", config={"displayModeBar": False},
                    key="case_explain_deletion")
    st.caption(
        _("A faithful explanation names words whose removal changes the prediction more than removing random words. "
          "Rank agreement near 0 means attention and SHAP point at different words.")
    )
    st.info(_(CAVEAT))


def render_tabular_explanation(bundle: ModelBundle, row) -> None:
    """Waterfall from the base value (mean training risk) to this patient's risk, bar by feature.

    ``row``: the patient's raw feature values — a mapping / one-row frame by feature name, or an
    array in the manifest's feature order (NaN = blank, imputed by the model).
    """
    import pandas as pd

    from medviz.explain import feature_array

    st.subheader(_("Why: feature contributions (SHAP)"))
    try:
        explainer = cache.tabular_explainer(str(bundle.path))
        if isinstance(row, dict):
            row = pd.DataFrame([row])
        elif isinstance(row, pd.Series):
            row = row.to_frame().T
        x = feature_array(row, explainer.feature_names, "case")
    except MedvizError as exc:
        st.warning(_("No explanation for this case: {error}").format(error=plain(exc)))
        return
    key = _key(bundle.path, bundle.model_sha256, x.tobytes())
    stored = st.session_state.get(TABULAR_RESULT_KEY)
    if not stored or stored[0] != key:
        with st.spinner(_("Computing exact SHAP values…")):
            exp = explainer.explain(x[:1])
        st.session_state[TABULAR_RESULT_KEY] = (key, exp)
        from medviz.ui.audit_hooks import record

        record("explanation_view", bundle=bundle, input_obj=x.tobytes(), output_summary="tabular SHAP waterfall")
    else:
        exp = stored[1]
    base = float(exp.base_values[0])
    total = base + float(exp.values[0].sum())
    st.caption(
        _("Scale: calibrated probability. Base value {base} = mean risk over {n} training patients; the bars add up to "
          "this patient's risk {total}. Red raises the risk, blue lowers it. Exact Shapley values (every combination of "
          "features) against those training patients.").format(base=f"{base:.3f}", n=len(explainer.background),
                                                               total=f"{total:.3f}")
    )
    st.plotly_chart(charts.waterfall(exp[0], explainer.specs), width="stretch", config={"displayModeBar": False},
                    key="case_explain_waterfall")
    st.info(_(CAVEAT))
