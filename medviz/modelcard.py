"""Model card from a bundle's manifest and its held-out evaluation (CLINICAL.md section E).

Sections follow Mitchell et al. 2019 (model details, intended use, factors, metrics, evaluation data,
training data, quantitative analyses, ethical considerations, caveats), completed with FDA CDS
criterion 4 (a: intended use, b: inputs, c: development and validation incl. subgroups and limits,
d: basis of each output) and CLINICAL.md M1–M9, with a one-page "Model Facts" summary on top
(Sendak 2020).

The card is a plain structure (:class:`ModelCard`: sections of typed blocks) so the Streamlit page
and the standalone HTML file render the same content. :func:`render_html` escapes every value: a
manifest or label is data, never markup.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import pandas as pd

from medviz.bundle import ModelBundle

NOT_RECORDED = "not recorded in the bundle"


@dataclass(frozen=True)
class Block:
    kind: str  # "text" | "facts" | "list" | "table" | "warning"
    content: Any


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...]
    refs: str = ""  # which guidance items it answers


@dataclass(frozen=True)
class ModelCard:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    generated_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _get(m: Mapping[str, Any], *keys: str, default: Any = NOT_RECORDED) -> Any:
    cur: Any = m
    for k in keys:
        if not isinstance(cur, Mapping) or k not in cur or cur[k] in (None, "", [], {}):
            return default
        cur = cur[k]
    return cur


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.1%}" if pct else f"{v:.3f}"
    return str(v)


def _ci(d: Mapping[str, Any] | None, pct: bool = False) -> str:
    if not d or d.get("estimate") is None:
        return "not estimable"
    s = _fmt(d["estimate"], pct)
    if d.get("lo") is not None and d.get("hi") is not None:
        s += f" (95% CI {_fmt(d['lo'], pct)}–{_fmt(d['hi'], pct)})"
    return s


def build_model_card(bundle: ModelBundle, evaluation: Any = None, subgroups: Mapping[str, pd.DataFrame] | None = None) -> ModelCard:
    """Assemble the card. ``evaluation`` is the bundle-test Evaluation (recomputed if None and test predictions exist)."""
    from medviz import evaluation as E

    m = bundle.manifest
    if evaluation is None and bundle.test_predictions is not None:
        evaluation = E.evaluate_bundle_test(bundle)
    summ = evaluation.summary() if evaluation is not None else None
    if subgroups is None:
        subgroups = default_subgroups(bundle, evaluation)
    tr = m.get("training") or {}
    sections = [
        _facts(bundle, summ),
        _details(bundle),
        _intended(bundle),
        _inputs(bundle),
        _data(bundle, summ),
        _method(bundle),
        _safety(bundle),
        _performance(bundle, evaluation, summ, subgroups),
        _limitations(bundle, evaluation, summ, subgroups),
        _explanations(bundle),
        _oversight(),
        _versions(bundle),
        _audit(),
        _cds(bundle),
    ]
    return ModelCard(
        title=f"Model card: {bundle.title}",
        subtitle=f"{bundle.name} v{bundle.version} · trained {str(tr.get('trained_at', '?'))[:10]} · "
                 f"last validated {m.get('last_validated', '?')}",
        sections=tuple(sec for sec in sections if sec is not None),
    )


def default_subgroups(bundle: ModelBundle, evaluation: Any) -> dict[str, pd.DataFrame]:
    """Subgroups the test data allows: near-duplicate status (text); age bands and any categorical column (tabular)."""
    from medviz import evaluation as E

    tp = bundle.test_predictions
    out: dict[str, pd.DataFrame] = {}
    if evaluation is None or tp is None or len(tp) != evaluation.cohort.n:
        return out
    if bundle.is_text and "near_duplicate" in tp.columns:
        g = tp["near_duplicate"].astype(str).str.lower().map({"true": "near-duplicate of a training text",
                                                              "false": "new wording"}).fillna("unknown")
        out["Near-duplicate of training text"] = E.subgroup_table(evaluation, g)
    if bundle.is_tabular:
        for f in (m := bundle.manifest).get("inputs", {}).get("features", []) or []:
            if str(f.get("name", "")).lower() in ("age", "age_years") and f["name"] in tp.columns:
                out[f"{f.get('label') or f['name']} (quartile bands)"] = E.subgroup_table(evaluation, tp[f["name"]])
        for col in m.get("subgroup_columns", []) or []:
            if col in tp.columns:
                out[col] = E.subgroup_table(evaluation, tp[col])
    return out


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


def _pct(v: Any) -> str:
    return f"{v:.1%}" if isinstance(v, (int, float)) else NOT_RECORDED


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
    bands = m.get("risk_bands")
    if bands:
        rows += [("Risk bands", bands.get("rule", NOT_RECORDED)), ("High-risk threshold", _fmt(bands.get("high_risk_threshold"))),
                 ("Why this threshold", bands.get("rationale", NOT_RECORDED))]
    elif bundle.is_text:
        rows.append(("Thresholds", "none: the model shows a ranked list with probabilities, never a single label"))
    return Section("method", "Method: preprocessing, calibration, thresholds", (Block("facts", rows),), "M4")


def _performance(bundle, evaluation, summ, subgroups) -> Section:
    blocks: list[Block] = []
    if summ is None:
        return Section("performance", "Performance", (Block("warning", "No held-out predictions in this bundle: "
                                                             "performance is untested."),), "M5")
    boot = summ.get("bootstrap", {})
    blocks.append(Block("text", f"Held-out test data, n = {summ['cohort']['n']}. CIs: {boot.get('resamples', 0)} "
                                f"stratified bootstrap resamples of patients (seed {boot.get('seed')}), Wilson intervals "
                                "for proportions."))
    if summ["kind"] == "multiclass":
        blocks.append(Block("facts", [("Top-1 accuracy", _ci(summ["top1_accuracy"], True)),
                                      ("Top-3 accuracy", _ci(summ["top3_accuracy"], True)),
                                      ("Macro one-vs-rest AUC", _ci(summ["macro_auc"])),
                                      ("Top-label expected calibration error", _fmt(summ["top_label_ece"]))]))
        pc = evaluation.per_class
        t = pd.DataFrame({
            "diagnosis": pc["label"], "support": pc["support"], "AUC (one-vs-rest)": pc["auc"].map(_fmt),
            "sensitivity (95% CI)": [f"{_fmt(s, True)} ({_fmt(lo, True)}–{_fmt(hi, True)})" for s, lo, hi in
                                     zip(pc["sensitivity"], pc["sensitivity_lo"], pc["sensitivity_hi"])],
            "PPV (95% CI)": [f"{_fmt(s, True)} ({_fmt(lo, True)}–{_fmt(hi, True)})" for s, lo, hi in
                             zip(pc["ppv"], pc["ppv_lo"], pc["ppv_hi"])],
        })
        blocks.append(Block("table", t))
        dd = (bundle.manifest.get("metrics") or {}).get("test_deduplicated")
        if dd:
            blocks.append(Block("text", f"Without near-duplicates of training texts (n = {dd.get('n')}): top-1 "
                                        f"{_fmt(dd.get('top1_accuracy'), True)}, top-3 {_fmt(dd.get('top3_accuracy'), True)}, "
                                        f"macro AUC {_fmt(dd.get('macro_auc'))}."))
    else:
        cal = summ["calibration"]
        at = summ["at_threshold"]
        blocks.append(Block("facts", [
            ("AUC", _ci(summ["auc"])), ("Average precision", _ci(summ["average_precision"])),
            ("Brier score", _ci(summ["brier"])), ("Expected calibration error", _fmt(summ["ece"])),
            ("Calibration intercept (ideal 0)", _ci({"estimate": cal["intercept"], "lo": cal["intercept_lo"], "hi": cal["intercept_hi"]})),
            ("Calibration slope (ideal 1)", _ci({"estimate": cal["slope"], "lo": cal["slope_lo"], "hi": cal["slope_hi"]})),
            ("Observed / expected events", _fmt(cal["observed_expected"])),
            (f"Sensitivity at {at['threshold']:g}", _ci({"estimate": at["sensitivity"], "lo": at["sensitivity_lo"], "hi": at["sensitivity_hi"]}, True)),
            (f"Specificity at {at['threshold']:g}", _ci({"estimate": at["specificity"], "lo": at["specificity_lo"], "hi": at["specificity_hi"]}, True)),
            (f"PPV at {at['threshold']:g}", _ci({"estimate": at["ppv"], "lo": at["ppv_lo"], "hi": at["ppv_hi"]}, True)),
            (f"NPV at {at['threshold']:g}", _ci({"estimate": at["npv"], "lo": at["npv_lo"], "hi": at["npv_hi"]}, True)),
        ]))
    for name, table in (subgroups or {}).items():
        blocks.append(Block("text", f"By subgroup — {name}:"))
        blocks.append(Block("table", subgroup_display(table)))
    if not subgroups:
        blocks.append(Block("warning", "The test data carry no subgroup attributes (sex, age band, ethnicity, site): "
                                       "performance in those groups is untested."))
    return Section("performance", "Performance overall and by subgroup", tuple(blocks), "Mitchell §4, §7; FDA CDS 4(c)(ii); M5")


def subgroup_display(table: pd.DataFrame) -> pd.DataFrame:
    """A subgroup table as strings with CIs, for display."""
    def ci(est, lo, hi, pct=False):
        return "–" if est is None or (isinstance(est, float) and math.isnan(est)) else (
            f"{_fmt(est, pct)} ({_fmt(lo, pct)}–{_fmt(hi, pct)})" if lo is not None and not (isinstance(lo, float) and math.isnan(lo))
            else _fmt(est, pct))
    if "auc" in table.columns:
        return pd.DataFrame({
            "group": table["group"], "n": table["n"], "events": table["events"],
            "AUC (95% CI)": [ci(*r) for r in zip(table["auc"], table["auc_lo"], table["auc_hi"])],
            "calibration slope (95% CI)": [ci(*r) for r in zip(table["calibration_slope"], table["calibration_slope_lo"], table["calibration_slope_hi"])],
            "calibration intercept (95% CI)": [ci(*r) for r in zip(table["calibration_intercept"], table["calibration_intercept_lo"], table["calibration_intercept_hi"])],
            "sensitivity (95% CI)": [ci(*r, pct=True) for r in zip(table["sensitivity"], table["sensitivity_lo"], table["sensitivity_hi"])],
            "specificity (95% CI)": [ci(*r, pct=True) for r in zip(table["specificity"], table["specificity_lo"], table["specificity_hi"])],
            "flag": table["flag"],
        })
    return pd.DataFrame({
        "group": table["group"], "n": table["n"], "diagnoses present": table["diagnoses_present"],
        "top-1 accuracy (95% CI)": [ci(*r, pct=True) for r in zip(table["top1_accuracy"], table["top1_lo"], table["top1_hi"])],
        "top-3 accuracy": table["top3_accuracy"].map(lambda v: _fmt(v, True)),
        "macro AUC (95% CI)": [ci(*r) for r in zip(table["macro_auc"], table["macro_auc_lo"], table["macro_auc_hi"])],
        "flag": table["flag"],
    })


def _limitations(bundle, evaluation, summ, subgroups) -> Section:
    m = bundle.manifest
    items = list(m.get("limitations") or [])
    if m.get("never_seen"):
        items.append(f"Never seen in training: {m['never_seen']}")
    if summ:
        n = summ["cohort"]["n"]
        if n < 500:
            items.append(f"Small test set (n = {n}): confidence intervals are wide; performance in another setting "
                         "must be checked on local data (use External validation on the Evaluation page).")
        if summ["kind"] == "multiclass":
            pc = evaluation.per_class
            weak = pc[(pc["sensitivity"].fillna(0) < 0.7) & (pc["support"] > 0)]
            if len(weak):
                shown = weak.sort_values(["sensitivity", "support"], ascending=[True, False]).head(25)
                more = f" and {len(weak) - len(shown)} more (see the Evaluation page)" if len(weak) > len(shown) else ""
                items.append(f"Diagnoses the model often misses (test sensitivity < 70%; {len(weak)} of {len(pc)}): "
                             + ", ".join(f"{r.label} ({r.sensitivity:.0%} of {r.support})" for r in shown.itertuples()) + more + ".")
            thin = pc[pc["support"] < 20]
            if len(thin):
                items.append(f"{len(thin)} of {len(pc)} diagnoses have fewer than 20 test cases: their figures are imprecise.")
            items.append("It can only suggest the diagnoses in its list; any other condition will be mislabelled as one of "
                         "them with a confident-looking probability.")
        else:
            cal = summ["calibration"]
            if cal["slope_lo"] is not None and not (cal["slope_lo"] <= 1 <= cal["slope_hi"]):
                items.append(f"Calibration slope {cal['slope']:.2f} (CI excludes 1): risks are "
                             f"{'too extreme' if cal['slope'] < 1 else 'too moderate'} on test data.")
    for name, t in (subgroups or {}).items():
        flagged = t[t["flag"].astype(str) != ""]
        if len(flagged):
            items.append(f"{name}: groups too small to judge — " + ", ".join(f"{g} (n={n})" for g, n in zip(flagged["group"], flagged["n"])) + ".")
    src = str((m.get("training") or {}).get("data_source", ""))
    if "LLM" in src or "gretel" in src.lower():
        items.append("Training and test texts are LLM rewrites of a public data set, in a patient's voice, not real "
                     "clinical notes: performance on clinician-written notes is untested.")
    items.append("Untested groups: any population, setting or period not described under Training and test data.")
    return Section("limitations", "Limitations, failure modes and untested groups", (Block("list", items),),
                   "Mitchell §8–9; FDA CDS 4(c)(iii); M5")


def _explanations(bundle: ModelBundle) -> Section:
    if bundle.is_text:
        items = ["Word highlighting shows the model's attention weights: where it looked, not why it decided. Attention is "
                 "not a faithful explanation (Jain & Wallace 2019).",
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


# ------------------------------------------------------------------------------------------------
# Standalone HTML
# ------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.sub{color:#555} .refs{color:#888;font-size:.8rem;font-weight:normal}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem;width:100%} th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8} table.facts th{width:30%} .warning{background:#fff4e5;border-left:4px solid #f0a030;padding:.5rem .8rem}
.banner{background:#e8f1fb;border-left:4px solid #1f77b4;padding:.6rem .9rem} footer{color:#777;font-size:.8rem;margin-top:2rem}
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _block_html(b: Block) -> str:
    if b.kind == "text":
        return f"<p>{_e(b.content)}</p>"
    if b.kind == "warning":
        return f'<p class="warning">{_e(b.content)}</p>'
    if b.kind == "list":
        return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in b.content) + "</ul>"
    if b.kind == "facts":
        return '<table class="facts">' + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in b.content) + "</table>"
    if b.kind == "table":
        df: pd.DataFrame = b.content
        head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
        body = "".join("<tr>" + "".join(f"<td>{_e(_fmt(v) if isinstance(v, float) else v)}</td>" for v in row) + "</tr>"
                       for row in df.itertuples(index=False))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    raise ValueError(f"unknown block kind {b.kind!r}")


def render_html(card: ModelCard) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources); every value escaped."""
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        f"<title>{_e(card.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(card.title)}</h1>", f'<p class="sub">{_e(card.subtitle)}</p>',
        '<p class="banner">Decision support for clinicians — not a diagnosis, not for standalone or time-critical use.</p>',
    ]
    for s in card.sections:
        parts.append(f'<section id="{_e(s.key)}"><h2>{_e(s.title)} <span class="refs">{_e(s.refs)}</span></h2>')
        parts.extend(_block_html(b) for b in s.blocks)
        parts.append("</section>")
    parts.append(f"<footer>Generated by medviz at {_e(card.generated_at)} from the bundle's manifest and held-out "
                 "predictions.</footer></body></html>")
    return "\n".join(parts)


def section_titles(card: ModelCard) -> list[str]:
    return [s.title for s in card.sections]


def iter_blocks(card: ModelCard) -> Iterable[tuple[Section, Block]]:
    for s in card.sections:
        for b in s.blocks:
            yield s, b
