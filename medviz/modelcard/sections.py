"""The card's manifest-driven sections (model facts, details, intended use, inputs, data, method, safety, oversight, ...)."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from medviz.bundle import ModelBundle
from medviz.modelcard.card import Block, NOT_RECORDED, Section, _ci, _fmt, _get, _pct


def _facts(bundle: ModelBundle, summ: Mapping[str, Any] | None) -> Section:
    m = bundle.manifest
    rows = [("Output", "ranked list of diagnoses with calibrated probabilities" if bundle.is_text
             else f"calibrated probability of {_get(m, 'positive_label', default='the outcome')} "
                  f"({_get(m, 'outcome', 'description', default='')})".strip())]
    rows.append(("Intended use", _get(m, "intended_use")))
    rows.append(("Not for", "; ".join(_get(m, "out_of_scope_uses", default=[])) or NOT_RECORDED))
    if summ:
        c = summ["cohort"]
        if summ["kind"] == "multiclass":
            rows += [("Test cases", str(c["n"])), ("Top-1 accuracy", _ci(summ["top1_accuracy"], True)),
                     ("Top-3 accuracy", _ci(summ["top3_accuracy"], True)), ("Macro one-vs-rest AUC", _ci(summ["macro_auc"]))]
        else:
            at = summ["at_threshold"]
            rows += [("Test patients (events)", f"{c['n']} ({c['events']}, prevalence {_fmt(c['prevalence'], True)})"),
                     ("AUC", _ci(summ["auc"])), ("Calibration slope", _fmt(summ["calibration"]["slope"])),
                     (f"At threshold {at['threshold']:g}",
                      f"sensitivity {_fmt(at['sensitivity'], True)}, specificity {_fmt(at['specificity'], True)}, "
                      f"PPV {_fmt(at['ppv'], True)}, NPV {_fmt(at['npv'], True)}")]
    rows.append(("Warning", "Decision support only: the clinician decides. Not for standalone or time-critical use."))
    return Section("facts", "Model facts (one-page summary)", (Block("facts", rows),), "Sendak 2020")


def _details(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    rows = [
        ("Name", bundle.name), ("Title", bundle.title), ("Version", bundle.version), ("Task", bundle.task),
        ("Labels", ", ".join(bundle.labels)),
        ("Developer", _get(m, "developer")), ("Contact", _get(m, "contact")), ("Licence", _get(m, "licence")),
        ("Trained", str(_get(m, "training", "trained_at"))), ("Bundle saved", str(_get(m, "saved_at"))),
        ("Model file SHA-256", bundle.model_sha256 or NOT_RECORDED),
        ("Software", f"TensorFlow {_get(m, 'training', 'tensorflow')}, Keras {_get(m, 'training', 'keras')}, "
                     f"Python {_get(m, 'training', 'python')}"),
    ]
    return Section("details", "Model details", (Block("facts", rows),), "Mitchell §1; M1")


def _intended(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    blocks = [
        Block("facts", [
            ("Intended use", _get(m, "intended_use")),
            ("Intended users", _get(m, "intended_users", default="Clinicians (doctors, nurses) reviewing a case, who "
                                    "make the decision themselves")),
            ("Population", _get(m, "population", default=_get(m, "outcome", "description"))),
        ]),
        Block("text", "Out of scope (do not use for):"),
        Block("list", list(_get(m, "out_of_scope_uses", default=[])) + [
            "Time-critical decisions (emergencies, triage) and standalone use without a clinician's review"]),
    ]
    return Section("intended_use", "Intended use, users and out-of-scope uses", tuple(blocks), "Mitchell §2; FDA CDS 4(a); M1")


def _inputs(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    inp = m.get("inputs") or {}
    if bundle.is_text:
        rows = [("Input", "free-text description of the case, in English"),
                ("Column in files", inp.get("text_column", NOT_RECORDED)),
                ("Tokenisation", inp.get("tokenizer", NOT_RECORDED)),
                ("Words read", f"the first {inp.get('sequence_length', '?')} words; the rest is ignored (and flagged)"),
                ("Quality requirements", "a sentence or more describing symptoms; very short, empty or mostly "
                                         "unknown-word input is flagged on every result")]
        return Section("inputs", "Inputs", (Block("facts", rows),), "FDA CDS 4(b); M2")
    feats = inp.get("features") or []
    table = pd.DataFrame([{
        "feature": f.get("label") or f.get("name"), "column": f.get("name"), "unit": f.get("unit") or "",
        "definition": f.get("description") or "", "type": f.get("type", ""),
        "accepted range (hard limits)": f"{_fmt(f.get('min'))} – {_fmt(f.get('max'))}",
        "training 1st–99th percentile": f"{_fmt(f.get('p01'))} – {_fmt(f.get('p99'))}",
        "training median (imputed if blank)": _fmt(f.get("median")),
    } for f in feats])
    blocks = [Block("table", table)]
    for k in ("missing_values", "hard_limits", "training_range"):
        if inp.get(k):
            blocks.append(Block("text", f"{k.replace('_', ' ').capitalize()}: {inp[k]}"))
    return Section("inputs", "Inputs (definitions, units, accepted ranges)", tuple(blocks), "FDA CDS 4(b); M2")


def _data(bundle: ModelBundle, summ: Mapping[str, Any] | None) -> Section:
    m = bundle.manifest
    tr = m.get("training") or {}
    rows = [("Source", _get(tr, "data_source")), ("Licence", _get(tr, "data_licence")),
            ("Collection dates", _get(tr, "data_dates")), ("Setting", _get(tr, "setting", default=_get(m, "setting"))),
            ("Training rows", _fmt(tr.get("n_train"))), ("Validation (for early stopping / calibration)",
                                                          f"{_fmt(tr.get('n_validation'))}: {_get(tr, 'validation_split')}"),
            ("Training file", _get(tr, "train_file")), ("Test file", _get(tr, "test_file")),
            ("Training prevalence", _fmt(tr.get("training_prevalence"), True) if tr.get("training_prevalence") is not None else "–"),
            ("Demographics", _get(tr, "demographics", default=_get(m, "demographics")))]
    blocks = [Block("facts", rows)]
    dedup = (m.get("metrics") or {}).get("test_deduplicated")
    indep = ("The test set is a separate file held out from training, early stopping and calibration; figures on this "
             "card are computed on it (never on training data).")
    if dedup:
        indep += (f" {dedup.get('near_duplicates_removed', '?')} test texts are near-duplicates of training texts "
                  f"({dedup.get('rule', '')}); figures without them are shown too.")
    blocks.append(Block("text", indep))
    if summ:
        blocks.append(Block("text", f"Evaluation cohort: {summ['cohort']['source']}, n = {summ['cohort']['n']}."))
    return Section("data", "Training and test data", tuple(blocks), "Mitchell §5–6; FDA CDS 4(c)(i); M3")


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
        rows.append(("Conformal prediction sets",
                     f"split conformal ({conf.get('score', '?')}), {_pct(conf.get('coverage'))} target coverage, fitted on the "
                     f"{conf.get('fitted_on', '?')} (n = {conf.get('n_calibration', '?')}); on test: coverage "
                     f"{_pct(tc.get('coverage'))}, mean set size {_fmt(tc.get('mean_set_size'))}"))
    if oos:
        how = {
            "energy_unknown": f"how unfamiliar the case is to the attention model (energy of its logits) plus "
                              f"{_fmt(oos.get('unknown_weight'))} × the share of words the model has never seen",
            "energy": "how unfamiliar the case is to the model (energy of its logits)",
            "msp": "1 − the top probability",
            "unknown_share": "the share of words the model has never seen",
        }.get(oos.get("method"), str(oos.get("method", "?")))
        how = f"score = {how} (method '{oos.get('method', '?')}'; higher = less like the training cases)"
        held = (met.get("out_of_scope_held_out") or {}).get("auroc_vs_calibration") or {}
        rows.append(("Out-of-scope flag",
                     f"{how}; flagged above the {_pct(oos.get('in_scope_quantile'))} percentile of the in-scope "
                     f"{oos.get('fitted_on', '?')} scores; in-scope test cases flagged: {_pct(test.get('in_scope_flagged'))}; "
                     f"AUROC against held-out clinician notes about other conditions: {_fmt(held.get(oos.get('method')))}"))
    rows.append(("Calibration on test", f"ECE {_fmt(test.get('ece'))} (10 equal-width confidence bins, top label), NLL {_fmt(test.get('nll'))}"))
    pre = (m.get("preprocessing") or {}).get("steps") or []
    if pre:
        rows.append(("Before the model", "; ".join(pre)))
    blocks = [Block("facts", rows)]
    rob = met.get("robustness")
    if rob:
        blocks.append(Block("text", f"Robustness set (tests/data/robustness.jsonl): {rob.get('n_in_scope')} clinician-register "
                                    f"vignettes over the trained diagnoses and {rob.get('n_out_of_scope')} about other conditions, "
                                    "written for this project and never trained on."))
        by = rob.get("out_of_scope_auroc_by_method") or {}
        table = pd.DataFrame([
            ("Top-1 accuracy (in-scope vignettes)", _pct(rob.get("top1_accuracy"))),
            ("Top-3 accuracy (in-scope vignettes)", _pct(rob.get("top3_accuracy"))),
            ("Out-of-scope AUROC (deployed score)", _fmt(rob.get("out_of_scope_auroc"))),
            *[(f"Out-of-scope AUROC ({k})", _fmt(v)) for k, v in by.items()],
            ("In-scope vignettes wrongly flagged", _pct(rob.get("in_scope_flagged"))),
            ("Out-of-scope vignettes flagged", _pct(rob.get("out_of_scope_flagged"))),
        ], columns=["Measure", "Value"])
        blocks.append(Block("table", table))
    return Section("safety", "Clinical safety: prediction sets, out-of-scope flag, clinician register", tuple(blocks), "M5")


def _method(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    arch = m.get("architecture") or {}
    cal = m.get("calibration") or {}
    rows = [("Architecture", arch.get("summary", NOT_RECORDED)), ("Parameters", _fmt(arch.get("parameters"))),
            ("Preprocessing", "inside the saved model (raw values in): "
                              + ("tokenisation and vocabulary" if bundle.is_text else "imputation, missing indicators, normalisation")),
            ("Calibration", f"{cal.get('method', NOT_RECORDED)} — fitted on {cal.get('fitted_on', '?')}"),
            ("Seed", _fmt((m.get("training") or {}).get("seed")))]
    product = (m.get("knowledge_base_expert") or {}).get("calibration")
    if product:  # network x knowledge-base expert (issue 15): the product's own temperature
        rows.insert(4, ("Product calibration", f"{product.get('method', NOT_RECORDED)}: temperature "
                                               f"{_fmt(product.get('temperature'))} — fitted on {product.get('fitted_on', '?')}"))
    bands = m.get("risk_bands")
    if bands:
        rows += [("Risk bands", bands.get("rule", NOT_RECORDED)), ("High-risk threshold", _fmt(bands.get("high_risk_threshold"))),
                 ("Why this threshold", bands.get("rationale", NOT_RECORDED))]
    elif bundle.is_text:
        rows.append(("Thresholds", "none: the model shows a ranked list with probabilities, never a single label"))
    return Section("method", "Method: preprocessing, calibration, thresholds", (Block("facts", rows),), "M4")


def _explanations(bundle: ModelBundle) -> Section:
    if bundle.is_text:
        from medviz.families import family_for

        items = ["Word highlighting shows the model's attention weights: where it looked, not why it decided. Attention is "
                 "not a faithful explanation (Jain & Wallace 2019)." if family_for(bundle).has_attention(bundle) else
                 "This model exposes no attention weights; SHAP word contributions (Partition explainer over the model's "
                 "own words) show what moved each probability.",
                 "Recognised and unknown words are listed, so a clinician can see what the model could read."]
    else:
        items = ["SHAP values show how much each feature moved this patient's predicted risk from the baseline (the "
                 "average prediction), on the stated scale (probability or log-odds); they add up to prediction − baseline.",
                 "Each feature is shown with its value, unit, and flags for missing/imputed or out-of-range values."]
    items.append("Explanations describe the model, not the patient's physiology or causation, and do not show whether the "
                 "prediction is correct; they did not protect clinicians from a biased model (Jabbour, JAMA 2023).")
    return Section("explanations", "Explanation methods and their limits", (Block("list", items),), "FDA CDS 4(d); M6")


def _oversight() -> Section:
    items = ["The model suggests; the clinician decides. It takes no automatic action.",
             "Read the probability and its uncertainty, the base rate, and the input warnings before using a result.",
             "Be wary of agreeing by default (automation bias): look for findings the model cannot see.",
             "Record agreement or disagreement, with a reason, where the dashboard offers it; overrides are logged.",
             "Stop using the model and report if results look systematically wrong for your patients."]
    return Section("oversight", "Human oversight", (Block("list", items),), "AI Act Art 14; M7")


def _versions(bundle: ModelBundle) -> Section:
    m = bundle.manifest
    hist = m.get("version_history") or [{"version": bundle.version, "date": str(_get(m, "training", "trained_at"))[:10],
                                         "changes": "this version"}]
    table = pd.DataFrame(hist)
    rows = [("Update timing", _get(m, "update_policy", default="retrained and revalidated when the data or code changes; "
                                                               "each version gets a new number and card")),
            ("Retraining command", _get(m, "training", "command")),
            ("Report a problem", _get(m, "contact", default="the model owner (no contact recorded in this bundle)"))]
    return Section("versions", "Version history, updates, reporting problems", (Block("table", table), Block("facts", rows)), "M8")


def _audit() -> Section:
    items = ["One record per view, score, upload, export or override: UTC time, user, role, action, a pseudonymous case "
             "ID and input hash, model name and version, an output summary and the warnings shown.",
             "Records are append-only and hash-chained; access is restricted; they are kept at least 6 months.",
             "Application logs never contain patient data (no rows, free text or identifiers)."]
    return Section("audit", "What the audit log records", (Block("list", items),), "AI Act Art 12; HIPAA §164.312(b); M9")


def _cds(bundle: ModelBundle) -> Section:
    rows = [("4(a) Purpose and intended use", "see Intended use"),
            ("4(b) Inputs and how they are obtained", "see Inputs"),
            ("4(c)(i) Development data and method", "see Training and test data; Method"),
            ("4(c)(ii) Validation, overall and by subgroup", "see Performance"),
            ("4(c)(iii) Limitations, untested groups", "see Limitations"),
            ("4(d) Basis of each recommendation", "every result shows its inputs, input warnings and an explanation; "
                                                  "see Explanation methods")]
    return Section("cds", "FDA CDS criterion 4: where each item is answered", (Block("facts", rows),), "FDA CDS 2022/2026")
