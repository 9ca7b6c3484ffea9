"""The card's manifest-driven sections (model facts, details, intended use, inputs, data, method, safety, oversight, ...).

Headings and fixed sentences in the active language (medviz.i18n); manifest text as written.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from medviz.bundle import ModelBundle
from medviz.i18n import _
from medviz.modelcard.card import Block, Section, _ci, _fmt, _get, _pct, not_recorded


def _facts(bundle: ModelBundle, summ: Mapping[str, Any] | None) -> Section:
    m = bundle.manifest
    outcome = _get(m, "positive_label", default=_("the outcome"))
    description = _get(m, "outcome", "description", default="")
    rows = [(_("Output"), _("ranked list of diagnoses with calibrated probabilities") if bundle.is_text
             else _("calibrated probability of {outcome} ({description})").format(outcome=outcome, description=description)
             if description else _("calibrated probability of {outcome}").format(outcome=outcome))]
    rows.append((_("Intended use"), _get(m, "intended_use")))
    rows.append((_("Not for"), "; ".join(_get(m, "out_of_scope_uses", default=[])) or not_recorded()))
    if summ:
        c = summ["cohort"]
        if summ["kind"] == "multiclass":
            rows += [(_("Test cases"), str(c["n"])), (_("Top-1 accuracy"), _ci(summ["top1_accuracy"], True)),
                     (_("Top-3 accuracy"), _ci(summ["top3_accuracy"], True)), (_("Macro one-vs-rest AUC"), _ci(summ["macro_auc"]))]
        else:
            at = summ["at_threshold"]
            rows += [(_("Test patients (events)"), _("{n} ({events}, prevalence {prevalence})").format(
                         n=c["n"], events=c["events"], prevalence=_fmt(c["prevalence"], True))),
                     (_("AUC"), _ci(summ["auc"])), (_("Calibration slope"), _fmt(summ["calibration"]["slope"])),
                     (_("At threshold {threshold}").format(threshold=f"{at['threshold']:g}"),
                      _("sensitivity {sensitivity}, specificity {specificity}, PPV {ppv}, NPV {npv}").format(
                          sensitivity=_fmt(at["sensitivity"], True), specificity=_fmt(at["specificity"], True),
                          ppv=_fmt(at["ppv"], True), npv=_fmt(at["npv"], True)))]
    rows.append((_("Warning"), _("Decision support only: the clinician decides. Not for standalone or time-critical use.")))
    return Section("facts", _("Model facts (one-page summary)"), (Block("facts", rows),), "Sendak 2020")


def _details(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    rows = [
        (_("Name"), bundle.name), (_("Title"), bundle.title), (_("Version"), bundle.version), (_("Task"), bundle.task),
        (_("Labels"), ", ".join(bundle.labels)),
        (_("Developer"), _get(m, "developer")), (_("Contact"), _get(m, "contact")), (_("Licence"), _get(m, "licence")),
        (_("Trained"), str(_get(m, "training", "trained_at"))), (_("Bundle saved"), str(_get(m, "saved_at"))),
        (_("Model file SHA-256"), bundle.model_sha256 or not_recorded()),
        (_("Software"), f"TensorFlow {_get(m, 'training', 'tensorflow')}, Keras {_get(m, 'training', 'keras')}, "
                     f"Python {_get(m, 'training', 'python')}"),
    ]
    return Section("details", _("Model details"), (Block("facts", rows),), "Mitchell §1; M1")


def _intended(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    blocks = [
        Block("facts", [
            (_("Intended use"), _get(m, "intended_use")),
            (_("Intended users"), _get(m, "intended_users", default=_("Clinicians (doctors, nurses) reviewing a case, who "
                                                                     "make the decision themselves"))),
            (_("Population"), _get(m, "population", default=_get(m, "outcome", "description"))),
        ]),
        Block("text", _("Out of scope (do not use for):")),
        Block("list", list(_get(m, "out_of_scope_uses", default=[])) + [
            _("Time-critical decisions (emergencies, triage) and standalone use without a clinician's review")]),
    ]
    return Section("intended_use", _("Intended use, users and out-of-scope uses"), tuple(blocks), "Mitchell §2; FDA CDS 4(a); M1")


def _inputs(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    inp = m.get("inputs") or {}
    if bundle.is_text:
        rows = [(_("Input"), _("free-text description of the case, in English")),
                (_("Column in files"), inp.get("text_column") or not_recorded()),
                (_("Tokenisation"), inp.get("tokenizer") or not_recorded()),
                (_("Words read"), _("the first {n} words; the rest is ignored (and flagged)").format(
                    n=inp.get("sequence_length", "?"))),
                (_("Quality requirements"), _("a sentence or more describing symptoms; very short, empty or mostly "
                                              "unknown-word input is flagged on every result"))]
        return Section("inputs", _("Inputs"), (Block("facts", rows),), "FDA CDS 4(b); M2")
    feats = inp.get("features") or []
    table = pd.DataFrame([{
        _("feature"): f.get("label") or f.get("name"), _("column"): f.get("name"), _("unit"): f.get("unit") or "",
        _("definition"): f.get("description") or "", _("type"): f.get("type", ""),
        _("accepted range (hard limits)"): f"{_fmt(f.get('min'))} – {_fmt(f.get('max'))}",
        _("training 1st–99th percentile"): f"{_fmt(f.get('p01'))} – {_fmt(f.get('p99'))}",
        _("training median (imputed if blank)"): _fmt(f.get("median")),
    } for f in feats])
    blocks = [Block("table", table)]
    for k, name in (("missing_values", _("Missing values")), ("hard_limits", _("Hard limits")),
                    ("training_range", _("Training range"))):
        if inp.get(k):
            blocks.append(Block("text", f"{name}: {inp[k]}"))
    return Section("inputs", _("Inputs (definitions, units, accepted ranges)"), tuple(blocks), "FDA CDS 4(b); M2")


def _data(bundle: ModelBundle, summ: Mapping[str, Any] | None) -> Section:
    m = bundle.manifest
    tr = m.get("training") or {}
    rows = [(_("Source"), _get(tr, "data_source")), (_("Licence"), _get(tr, "data_licence")),
            (_("Collection dates"), _get(tr, "data_dates")), (_("Setting"), _get(tr, "setting", default=_get(m, "setting"))),
            (_("Training rows"), _fmt(tr.get("n_train"))), (_("Validation (for early stopping / calibration)"),
                                                             f"{_fmt(tr.get('n_validation'))}: {_get(tr, 'validation_split')}"),
            (_("Training file"), _get(tr, "train_file")), (_("Test file"), _get(tr, "test_file")),
            (_("Training prevalence"), _fmt(tr.get("training_prevalence"), True) if tr.get("training_prevalence") is not None else "–"),
            (_("Demographics"), _get(tr, "demographics", default=_get(m, "demographics")))]
    blocks = [Block("facts", rows)]
    dedup = (m.get("metrics") or {}).get("test_deduplicated")
    indep = _("The test set is a separate file held out from training, early stopping and calibration; figures on "
              "this card are computed on it (never on training data).")
    if dedup:
        indep += " " + _("{n} test texts are near-duplicates of training texts ({rule}); figures without them are "
                         "shown too.").format(n=dedup.get("near_duplicates_removed", "?"), rule=dedup.get("rule", ""))
    blocks.append(Block("text", indep))
    if summ:
        blocks.append(Block("text", _("Evaluation cohort: {source}, n = {n}.").format(source=summ["cohort"]["source"],
                                                                                       n=summ["cohort"]["n"])))
    return Section("data", _("Training and test data"), tuple(blocks), "Mitchell §5–6; FDA CDS 4(c)(i); M3")


def _safety(bundle: ModelBundle) -> Section | None:
    """Text bundles: conformal sets, out-of-scope flag, calibration and the robustness set, as measured."""
    if not bundle.is_text:
        return None
    m = bundle.manifest
    met = m.get("metrics") or {}
    test = met.get("test") or {}
    conf = m.get("conformal") or {}
    oos = m.get("out_of_scope") or {}
    rows = []
    if conf:
        tc = test.get("conformal") or {}
        rows.append((_("Conformal prediction sets"),
                     _("split conformal ({score}), {coverage} target coverage, fitted on the {fitted_on} (n = {n}); "
                       "on test: coverage {test_coverage}, mean set size {set_size}").format(
                         score=conf.get("score", "?"), coverage=_pct(conf.get("coverage")),
                         fitted_on=conf.get("fitted_on", "?"), n=conf.get("n_calibration", "?"),
                         test_coverage=_pct(tc.get("coverage")), set_size=_fmt(tc.get("mean_set_size")))))
    if oos:
        how = {
            "energy_unknown": _("how unfamiliar the case is to the attention model (energy of its logits) plus "
                                "{weight} × the share of words the model has never seen").format(
                                    weight=_fmt(oos.get("unknown_weight"))),
            "energy": _("how unfamiliar the case is to the model (energy of its logits)"),
            "msp": _("1 − the top probability"),
            "unknown_share": _("the share of words the model has never seen"),
        }.get(oos.get("method"), str(oos.get("method", "?")))
        how = _("score = {how} (method '{method}'; higher = less like the training cases)").format(
            how=how, method=oos.get("method", "?"))
        held = (met.get("out_of_scope_held_out") or {}).get("auroc_vs_calibration") or {}
        rows.append((_("Out-of-scope flag"),
                     _("{how}; flagged above the {quantile} percentile of the in-scope {fitted_on} scores; in-scope "
                       "test cases flagged: {flagged}; AUROC against held-out clinician notes about other conditions: "
                       "{auroc}").format(how=how, quantile=_pct(oos.get("in_scope_quantile")),
                                         fitted_on=oos.get("fitted_on", "?"), flagged=_pct(test.get("in_scope_flagged")),
                                         auroc=_fmt(held.get(oos.get("method"))))))
    rows.append((_("Calibration on test"), _("ECE {ece} (10 equal-width confidence bins, top label), NLL {nll}").format(
        ece=_fmt(test.get("ece")), nll=_fmt(test.get("nll")))))
    pre = (m.get("preprocessing") or {}).get("steps") or []
    if pre:
        rows.append((_("Before the model"), "; ".join(pre)))
    blocks = [Block("facts", rows)]
    rob = met.get("robustness")
    if rob:
        blocks.append(Block("text", _("Robustness set (tests/data/robustness.jsonl): {n_in} clinician-register vignettes "
                                      "over the trained diagnoses and {n_out} about other conditions, written for this "
                                      "project and never trained on.").format(n_in=rob.get("n_in_scope"),
                                                                              n_out=rob.get("n_out_of_scope"))))
        by = rob.get("out_of_scope_auroc_by_method") or {}
        table = pd.DataFrame([
            (_("Top-1 accuracy (in-scope vignettes)"), _pct(rob.get("top1_accuracy"))),
            (_("Top-3 accuracy (in-scope vignettes)"), _pct(rob.get("top3_accuracy"))),
            (_("Out-of-scope AUROC (deployed score)"), _fmt(rob.get("out_of_scope_auroc"))),
            *[(_("Out-of-scope AUROC ({method})").format(method=k), _fmt(v)) for k, v in by.items()],
            (_("In-scope vignettes wrongly flagged"), _pct(rob.get("in_scope_flagged"))),
            (_("Out-of-scope vignettes flagged"), _pct(rob.get("out_of_scope_flagged"))),
        ], columns=[_("Measure"), _("Value")])
        blocks.append(Block("table", table))
    return Section("safety", _("Clinical safety: prediction sets, out-of-scope flag, clinician register"), tuple(blocks), "M5")


def _method(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    arch = m.get("architecture") or {}
    cal = m.get("calibration") or {}
    rows = [(_("Architecture"), arch.get("summary") or not_recorded()), (_("Parameters"), _fmt(arch.get("parameters"))),
            (_("Preprocessing"), _("inside the saved model (raw values in): {steps}").format(
                steps=_("tokenisation and vocabulary") if bundle.is_text
                else _("imputation, missing indicators, normalisation"))),
            (_("Calibration"), _("{method} — fitted on {fitted_on}").format(
                method=cal.get("method") or not_recorded(), fitted_on=cal.get("fitted_on", "?"))),
            (_("Seed"), _fmt((m.get("training") or {}).get("seed")))]
    product = (m.get("knowledge_base_expert") or {}).get("calibration")
    if product:  # network x knowledge-base expert (issue 15): the product's own temperature
        rows.insert(4, (_("Product calibration"), _("{method}: temperature {temperature} — fitted on {fitted_on}").format(
            method=product.get("method") or not_recorded(), temperature=_fmt(product.get("temperature")),
            fitted_on=product.get("fitted_on", "?"))))
    bands = m.get("risk_bands")
    if bands:
        rows += [(_("Risk bands"), bands.get("rule") or not_recorded()),
                 (_("High-risk threshold"), _fmt(bands.get("high_risk_threshold"))),
                 (_("Why this threshold"), bands.get("rationale") or not_recorded())]
    elif bundle.is_text:
        rows.append((_("Thresholds"), _("none: the model shows a ranked list with probabilities, never a single label")))
    return Section("method", _("Method: preprocessing, calibration, thresholds"), (Block("facts", rows),), "M4")


def _explanations(bundle: ModelBundle) -> Section:
    if bundle.is_text:
        from medviz.families import family_for

        items = [_("Word highlighting shows the model's attention weights: where it looked, not why it decided. "
                   "Attention is not a faithful explanation (Jain & Wallace 2019).") if family_for(bundle).has_attention(bundle)
                 else _("This model exposes no attention weights; SHAP word contributions (Partition explainer over the "
                        "model's own words) show what moved each probability."),
                 _("Recognised and unknown words are listed, so a clinician can see what the model could read.")]
    else:
        items = [_("SHAP values show how much each feature moved this patient's predicted risk from the baseline (the "
                   "average prediction), on the stated scale (probability or log-odds); they add up to prediction − "
                   "baseline."),
                 _("Each feature is shown with its value, unit, and flags for missing/imputed or out-of-range values.")]
    items.append(_("Explanations describe the model, not the patient's physiology or causation, and do not show whether "
                   "the prediction is correct; they did not protect clinicians from a biased model (Jabbour, JAMA 2023)."))
    return Section("explanations", _("Explanation methods and their limits"), (Block("list", items),), "FDA CDS 4(d); M6")


def _oversight() -> Section:
    items = [_("The model suggests; the clinician decides. It takes no automatic action."),
             _("Read the probability and its uncertainty, the base rate, and the input warnings before using a result."),
             _("Be wary of agreeing by default (automation bias): look for findings the model cannot see."),
             _("Record agreement or disagreement, with a reason, where the dashboard offers it; overrides are logged."),
             _("Stop using the model and report if results look systematically wrong for your patients.")]
    return Section("oversight", _("Human oversight"), (Block("list", items),), "AI Act Art 14; M7")


def _versions(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    hist = m.get("version_history") or [{"version": bundle.version, "date": str(_get(m, "training", "trained_at"))[:10],
                                         "changes": _("this version")}]
    table = pd.DataFrame(hist)
    headings = {"version": _("version"), "date": _("date"), "changes": _("changes")}
    table = table.rename(columns={c: headings[c] for c in table.columns if c in headings})
    rows = [(_("Update timing"), _get(m, "update_policy", default=_("retrained and revalidated when the data or code "
                                                                    "changes; each version gets a new number and card"))),
            (_("Retraining command"), _get(m, "training", "command")),
            (_("Report a problem"), _get(m, "contact", default=_("the model owner (no contact recorded in this bundle)")))]
    blocks = [Block("table", table)]
    changelog = [str(line) for line in (m.get("changelog") or []) if str(line).strip()]
    if changelog:  # the manifest's changelog lines (newest first), written by `calibrate --rebuild-expert --change` or by hand
        blocks += [Block("text", _("Changes, newest first:")), Block("list", changelog)]
    return Section("versions", _("Version history, updates, reporting problems"), (*blocks, Block("facts", rows)), "M8")


def _audit() -> Section:
    items = [_("One record per view, score, upload, export or override: UTC time, user, role, action, a pseudonymous "
               "case ID and input hash, model name and version, an output summary and the warnings shown."),
             _("Records are append-only and hash-chained; access is restricted; they are kept at least 6 months."),
             _("Application logs never contain patient data (no rows, free text or identifiers).")]
    return Section("audit", _("What the audit log records"), (Block("list", items),), "AI Act Art 12; HIPAA §164.312(b); M9")


def _cds(bundle: ModelBundle) -> Section:
    rows = [(_("4(a) Purpose and intended use"), _("see Intended use")),
            (_("4(b) Inputs and how they are obtained"), _("see Inputs")),
            (_("4(c)(i) Development data and method"), _("see Training and test data; Method")),
            (_("4(c)(ii) Validation, overall and by subgroup"), _("see Performance")),
            (_("4(c)(iii) Limitations, untested groups"), _("see Limitations")),
            (_("4(d) Basis of each recommendation"), _("every result shows its inputs, input warnings and an explanation; "
                                                       "see Explanation methods"))]
    return Section("cds", _("FDA CDS criterion 4: where each item is answered"), (Block("facts", rows),), "FDA CDS 2022/2026")
