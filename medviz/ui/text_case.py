"""Case page section for text bundles: type a case, see the ranked differential and attention."""
from __future__ import annotations

import streamlit as st

from medviz.bundle import ModelBundle
from medviz.charts.prediction import differential_bar, highlight_html
from medviz.errors import MedvizError
from medviz.i18n import N_, _, current_language, format_number, format_probability
from medviz.text.analyse import CaseAnalysis, analyse_case
from medviz.text.predict import ranked
from medviz.ui import cache
from medviz.ui.audit_hooks import record, summarize_probabilities
from medviz.ui.cases import save_case_button, text_prediction
from medviz.ui.common import esc, plain
from medviz.ui.messages import library_message, term

TEXT_KEY = "case_text"
RESULT_KEY = "case_text_result"  # (bundle path, CaseAnalysis, ranked table, attention row)

EXAMPLE = N_("I've had a fever and a dry cough for three days, my whole body aches and I feel exhausted.")


def render(bundle: ModelBundle) -> None:
    with st.form("case_text_form", border=False):
        st.text_area(
            _("Describe the case in plain words"),
            key=TEXT_KEY,
            height=130,
            max_chars=100_000,
            placeholder=_(EXAMPLE),
            help=(_("Symptoms, duration, what is absent. The model reads English and Simplified Chinese words and numbers.")
                  if "zh" in ((bundle.manifest.get("inputs") or {}).get("languages") or ())
                  else _("Symptoms, duration, what is absent. The model reads English words and numbers.")),
        )
        submitted = st.form_submit_button(_("Suggest diagnoses"), type="primary")
        st.caption(_("Do not enter names, dates of birth or record numbers: a case you save is filed under a random "
                     "case ID, and identifiers found are removed before saving."))
    if submitted:
        _predict(bundle, st.session_state.get(TEXT_KEY, ""))
    result = st.session_state.get(RESULT_KEY)
    if result and result[0] == str(bundle.path):
        _show(bundle, *result[1:])


def _predict(bundle: ModelBundle, text: str) -> None:
    st.session_state.pop(RESULT_KEY, None)
    try:
        predictor = cache.text_predictor(str(bundle.path))
        analysis = analyse_case(predictor, text)
    except MedvizError as exc:
        st.warning(plain(library_message(exc)))
        show_unscored_reading(exc)
        return
    table = ranked(analysis.probabilities, bundle.labels)
    st.session_state[RESULT_KEY] = (str(bundle.path), analysis, table, analysis.attention)
    record("prediction", bundle=bundle, input_obj=analysis.text, output_summary=summarize_probabilities(bundle.labels, analysis.probabilities), warnings=analysis.warnings)


def _show(bundle: ModelBundle, check: CaseAnalysis, table, attention) -> None:
    _show_cant_miss(bundle, check)  # first: never hidden by the low-confidence / out-of-scope banners
    if check.out_of_scope:
        q = (bundle.manifest.get("out_of_scope") or {}).get("in_scope_quantile")
        why = (_("it looks less like the training cases than {share} of held-out in-scope cases do").format(
                   share=format_probability(q, 0))
               if isinstance(q, (int, float)) else _("its out-of-scope score is above the flag threshold"))
        st.error(_("{warning} ({why}; score {score}, threshold {threshold}).").format(
            warning=plain(library_message(check.warnings[0])), why=why,
            score=format_number(check.out_of_scope_score, 2), threshold=format_number(check.out_of_scope_threshold, 2)),
            icon="🚩")
    for w in check.warnings[1:] if check.out_of_scope else check.warnings:
        st.warning(plain(library_message(w)), icon="⚠️")
    if check.coverage is not None:
        st.info(plain(conformal_sentence(bundle, check)))
    _show_reading(check, bundle)
    _show_kb_reading(bundle, check)
    _show_differential(bundle, table)
    from medviz.ui.evaluation_views import diagnosis_context_table

    diagnosis_context_table(bundle, list(table["label"].head(3)))

    from medviz.families import family_for

    if family_for(bundle).has_attention(bundle):
        _show_attention(check, attention)
    else:  # an imported model without attention: the SHAP words below are the explanation
        st.caption(_("This model exposes no attention weights; the word contributions (SHAP) below show what drove it."))
    save_case_button(bundle, check.text, text_prediction(table["label"], table["probability"]), key="case_save")
    from medviz.ui.explain_views import render_text_explanation

    render_text_explanation(bundle, check.model_text, table["label"].head(5).tolist())


def conformal_sentence(bundle: ModelBundle, check: CaseAnalysis) -> str:
    """The conformal-set sentence (CaseAnalysis.differential_sentence's wording) with the diagnoses under the
    bundle's display names in the session's language (``bundle.display_label``), as the ranked list shows them."""
    coverage = format_probability(check.coverage, 0)
    if not check.prediction_set:
        return _("No diagnosis is probable enough to include at {coverage} coverage on held-out cases: the model "
                 "cannot stand behind any of its diagnoses for this case.").format(coverage=coverage)
    language = current_language()
    sep = "、" if language == "zh_CN" else ", "  # Chinese lists use the enumeration comma
    items = sep.join(bundle.display_label(lab, language) for lab in check.prediction_set)
    return _("With {coverage} coverage on held-out cases, the diagnosis is among: {items}.").format(
        coverage=coverage, items=items)


def _show_attention(check: CaseAnalysis, attention) -> None:
    st.subheader(_("Words the model attended to"))
    if check.negated or check.recognised_terms:
        st.caption(_("The case as the model read it: clinician terms rewritten and negated findings removed (see above)."))
    elif check.model_text != check.text:  # a bundle for which a denied finding is not evidence (2.5.0)
        st.caption(_("The case as the network read it: the findings read as denied were removed with their negation, "
                     "because a denied finding is not evidence for any diagnosis."))
    spans = []
    peak = max((attention[t.position] for t in check.tokens if t.position is not None), default=0.0)
    for t in check.tokens:
        w = attention[t.position] / peak if (t.position is not None and peak > 0) else 0.0
        spans.append((t.start, t.end, w))
    # st.html: the typed text is escaped HTML and must not be parsed as Markdown (see explain_views).
    st.html(f'<div style="line-height: 2; font-size: 1.05rem">{highlight_html(check.model_text, spans)}</div>')
    st.caption(_(
        "Shading is the model's attention weight (darkest = most attended, relative to this case). "
        "Attention shows where the model looked, not why it decided: it is not a faithful explanation, "
        "and it describes the model, not the patient."
    ))


_STATUS_TITLES = {
    "present": N_("Present (read by the model)"),
    "absent": N_("Absent (denied, not counted)"),
    "uncertain": N_("Uncertain (hedged, not counted)"),
    "historical": N_("Past history (not counted)"),
    "family/other person": N_("About someone else (not counted)"),
}


def _clinical_reading(bundle: ModelBundle, check: CaseAnalysis):
    """The note's clinical reading (findings with status, vital signs, ambiguous short forms): the one the
    analysis carries, or None when the bundle was not trained with clinical preprocessing."""
    from medviz.text.preprocess import bundle_preprocessing

    if bundle_preprocessing(bundle.manifest) != "clinical":
        return None
    pre = getattr(check, "preprocessed", None)
    if pre is not None and hasattr(pre, "vitals"):
        return pre
    from medviz.text.clinical import preprocess  # an analysis without it: the same deterministic reading

    return preprocess(check.text)


def _show_reading(check: CaseAnalysis, bundle: ModelBundle | None = None) -> None:
    """How the text was read (CLINICAL.md P6, W5): findings grouped by assertion status, vital signs
    against adult reference ranges, short forms left uninterpreted, contradictions, recognised terms."""
    pre = _clinical_reading(bundle, check) if bundle is not None else None
    if pre is not None:
        _show_findings(pre)
    elif check.negated:
        items = "".join(
            f"<li>{esc(f.text)} <span style='color:#666'>({esc(term(f.kind))}: “{esc(f.cue)}”)</span></li>"
            for f in check.negated
        )
        st.markdown("**" + _("Read as absent or uncertain (not counted):") + f"**<ul>{items}</ul>", unsafe_allow_html=True)
    if check.recognised_terms:
        with st.expander(_("Clinician terms rewritten for the model"), expanded=False):
            normal = "<i>" + esc(_("normal, not passed on")) + "</i>"
            items = "".join(
                f"<li>{esc(t.text)} → {esc(t.meaning) if t.meaning else normal}</li>"
                for t in check.recognised_terms
            )
            st.markdown(f"<ul>{items}</ul>", unsafe_allow_html=True)


def show_unscored_reading(exc: Exception) -> None:
    """For a note refused because every finding was read as absent or uncertain
    (:class:`medviz.text.analyse.NothingToScoreError`): its findings by status, as the Case page shows
    them for a scored note and a scored CSV lists them. Nothing for other errors."""
    pre = getattr(exc, "preprocessed", None)
    if pre is not None:
        _show_findings(pre)


def _show_findings(pre) -> None:
    import pandas as pd

    from medviz.text.clinical import STATUSES, findings_by_status

    for w in pre.warnings:
        st.warning(plain(library_message(w)), icon="⚠️")
    groups = [(s, findings_by_status(pre, s)) for s in STATUSES]
    groups = [(s, items) for s, items in groups if items]
    if groups:
        st.subheader(_("Findings in the note"))
        cols = st.columns(len(groups))
        for col, (status, items) in zip(cols, groups):
            with col:
                lis = "".join(f"<li>{plain(p)}</li>" for p in dict.fromkeys(items))  # note text: Markdown-safe
                st.markdown(f"**{_(_STATUS_TITLES[status])}**<ul>{lis}</ul>", unsafe_allow_html=True)
        st.caption(_("Assertion status by medspaCy's ConText rules. Only present findings (and abnormal vital "
                     "signs) are evidence for the model; the others are removed from the text it reads."))
    if pre.vitals:
        st.subheader(_("Vital signs"))
        table = pd.DataFrame({
            _("As written"): [v.text for v in pre.vitals],
            _("Measurement"): [term(v.name) for v in pre.vitals],
            _("Value"): [format_number(v.value) for v in pre.vitals],
            _("Unit"): [v.unit for v in pre.vitals],
            _("Adult reference range"): [v.reference_range for v in pre.vitals],
            _("Status"): [term(v.status) for v in pre.vitals],
            _("Meaning"): [term(v.finding) if v.finding else "—" for v in pre.vitals],
        })
        st.dataframe(table, hide_index=True, width="stretch")
        sources = "; ".join(dict.fromkeys(f"{v.name}: {v.source}" for v in pre.vitals))
        st.caption(_("Reference ranges (adults, at rest): {sources}.").format(sources=sources))
    if pre.not_interpreted:
        items = "".join(f"<li>{plain(x)}</li>" for x in pre.not_interpreted)
        st.markdown(_("**Not interpreted** (meaning not fixed by the context; left as written):") + f"<ul>{items}</ul>",
                    unsafe_allow_html=True)


def _differential_columns() -> dict[str, str]:
    """Headings of the ranked-differential tables, in the session's language."""
    return {"rank": "#", "label": _("Diagnosis"), "probability": _("Probability (%)")}


def _differential_column_config() -> dict:
    """Column widths of the ranked-differential tables (shown as rank, probability, diagnosis: a long diagnosis
    name is cut at the table's right edge, with the whole name on hover and in the bar chart beside it, never the
    probability; in the order rank, diagnosis, probability the probability column was cut to "Probabili…" by names
    such as "Poisoning due to antipsychotics")."""
    names = _differential_columns()
    return {
        names["rank"]: st.column_config.NumberColumn(width=40),
        names["probability"]: st.column_config.TextColumn(width=110),  # text: "<0.1" (:func:`_percent_cells`)
        names["label"]: st.column_config.TextColumn(),
    }


def _percent_cells(probabilities, digits: int) -> list[str]:
    """Probabilities in [0, 1] as the ranked tables' "Probability (%)" cells, ``digits`` decimals, the percent sign
    left to the heading: "12.3", and "<0.1" for a probability above 0 that the decimals would show as "0.0" (the one
    rule for small probabilities, :func:`medviz.i18n.format_probability`; a top-10 row read "0.0" on a note whose
    top diagnosis took 99.9 %)."""
    return [format_probability(float(p), digits).removesuffix("%") for p in probabilities]


def _differential_view(frame):
    """``frame`` (rank, label, probability) as the tables show it: rank, probability, diagnosis, with headings."""
    return frame[["rank", "probability", "label"]].rename(columns=_differential_columns())


TOP_SHOWN = 10  # ranked differential rows shown; the rest are searchable (wide label sets, issue 15)


def _show_differential(bundle: ModelBundle, table) -> None:
    """Top 10 as a table beside a bar chart; every other diagnosis searchable by name."""
    st.subheader(_("Ranked differential"))
    shown = min(TOP_SHOWN, len(table))
    left, right = st.columns([2, 3])
    language = current_language()
    display = table.copy()  # the labels stay the bundle's identifiers in `table` (saved, explained)
    display["label"] = [bundle.display_label(lab, language) for lab in table["label"]]
    with left:
        top = display.head(shown).copy()
        top["probability"] = _percent_cells(top["probability"], 1)
        st.dataframe(
            _differential_view(top),
            hide_index=True,
            width="stretch",
            column_config=_differential_column_config(),
        )
        st.caption(_(
            "Calibrated probabilities over the {n} diagnoses the model knows; they sum to 100%. "
            "A diagnosis outside this list can never appear here.").format(n=format_number(len(bundle.labels)))
        )
    with right:
        st.plotly_chart(differential_bar(display, k=min(shown, 10)), width="stretch", config={"displayModeBar": False})
    if len(table) > shown:
        with st.expander(_("Search the other {n} diagnoses").format(n=format_number(len(table) - shown))):
            query = st.text_input(_("Diagnosis name contains"), key="case_differential_search",
                                  placeholder=_("e.g. embolism"))
            rest = display.iloc[shown:].copy()
            if query.strip():
                rest = rest[rest["label"].str.contains(query.strip(), case=False, regex=False)]
            rest["probability"] = _percent_cells(rest["probability"], 3)
            st.dataframe(_differential_view(rest),
                         hide_index=True, width="stretch", height=300, column_config=_differential_column_config())


def _show_cant_miss(bundle: ModelBundle, check: CaseAnalysis) -> None:
    """Can't-miss conditions in this differential (medviz/text/cant_miss.json), above everything else.

    Two boxes, against alarm fatigue (the top-10 rule over 801 conditions names one on most notes): in red, those a
    red flag in the note names or whose probability reaches the rule's stated probability; in amber below it, those
    named only because they rank in the top k at a lower probability. Both carry the urgent wording and are shown
    whatever the confidence or scope notes say."""
    from medviz.text.cant_miss import by_urgency, cant_miss, load_rule, percent
    rule = load_rule()
    hits = cant_miss(bundle.labels, check.probabilities, rule, check.red_flags)
    if not hits:
        return

    def items(chosen) -> str:
        return "".join(
            f"<li><b>{esc(bundle.display_label(h.label, current_language()))}</b> — {esc(percent(h.probability))} ("
            + esc(_("rank {rank}").format(rank=h.rank)) + f"): {esc(h.danger)}. "
            + ("<b>" + esc(_("Red flag in the note: {reason}.").format(reason=h.red_flag)) + "</b> "
               if h.red_flag else "")
            + "<span style='color:#555'>" + esc(_("Source: {source}").format(source=h.source)) + "</span></li>"
            for h in chosen)

    urgent, by_rank = by_urgency(hits, rule)
    if urgent:
        st.error(
            _("**Can't-miss — consider urgently and rule out before any other diagnosis.** Dangerous conditions named "
              "by a red flag in the note whatever their rank, or at a probability of {p} or more, whatever the "
              "confidence or scope notes below say:").format(p=rule.min_probability_text),
            icon="🚨",
        )
        st.html(f"<ul>{items(urgent)}</ul>")
    if by_rank:
        st.warning(
            _("**Also consider urgently: dangerous conditions in the top {k} of the differential**, at {floor} or more "
              "and each under {p}: not ruled out by the model, whatever the confidence or scope notes below say:").format(
                k=rule.top_k, floor=rule.top_k_floor_text, p=rule.min_probability_text),
            icon="⚠️",
        )
        st.html(f"<ul>{items(by_rank)}</ul>")


def _show_kb_reading(bundle: ModelBundle, check: CaseAnalysis) -> None:
    """Findings the bundle's knowledge-base expert read (present / absent / uncertain), when it has one (CLINICAL.md
    P6): the analysis's own reading (``CaseAnalysis.expert_findings``), the one a scored CSV lists in its findings
    columns."""
    from medviz.text.synth.bayes import expert_for

    if expert_for(bundle) is None or check.expert_findings is None:
        return
    present, absent, uncertain = check.expert_findings
    with st.expander(_("Findings the knowledge-base expert read: {present} present, {absent} absent, {uncertain} "
                       "uncertain").format(present=len(present), absent=len(absent), uncertain=len(uncertain)),
                     expanded=False):
        st.html("<b>" + esc(_("Present:")) + "</b> " + (esc(", ".join(present)) or "<i>" + esc(_("none recognised")) + "</i>")
                + "<br><b>" + esc(_("Absent (after no / denies / without):")) + "</b> "
                + (esc(", ".join(absent)) or "<i>" + esc(_("none")) + "</i>")
                + "<br><b>" + esc(_("Uncertain (hedged: ?, possible, query, suspected …; weighed as if present):"))
                + "</b> " + (esc(", ".join(uncertain)) or "<i>" + esc(_("none")) + "</i>"))
        st.caption(_("Phrases matched against the knowledge base's symptom names and this repository's synonym and "
                     "clinician-findings tables; the expert's naive-Bayes probabilities are multiplied into the model's. "
                     "A hedged finding is shown as uncertain but counts as evidence as a present one does (the "
                     "clinician raised it because something suggests it); the network also reads its words."))
