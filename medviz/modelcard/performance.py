"""The card's figure-driven sections: performance overall and by subgroup, and the limitations they reveal."""

from __future__ import annotations

import math

import pandas as pd

from medviz.i18n import _, translate
from medviz.modelcard.card import Block, Section, _ci, _fmt


def _performance(bundle, evaluation, summ, subgroups) -> Section:
    blocks: list[Block] = []
    if summ is None:
        return Section("performance", _("Performance"), (Block("warning", _("No held-out predictions in this bundle: "
                                                               "performance is untested.")),), "M5")
    boot = summ.get("bootstrap", {})
    blocks.append(Block("text", _("Held-out test data, n = {n}. CIs: {resamples} stratified bootstrap resamples of "
                                  "patients (seed {seed}), Wilson intervals for proportions.").format(
                                      n=summ["cohort"]["n"], resamples=boot.get("resamples", 0), seed=boot.get("seed"))))
    if summ["kind"] == "multiclass":
        blocks.append(Block("facts", [(_("Top-1 accuracy"), _ci(summ["top1_accuracy"], True)),
                                      (_("Top-3 accuracy"), _ci(summ["top3_accuracy"], True)),
                                      (_("Macro one-vs-rest AUC"), _ci(summ["macro_auc"])),
                                      (_("Top-label expected calibration error"), _fmt(summ["top_label_ece"]))]))
        pc = evaluation.per_class
        t = pd.DataFrame({
            _("diagnosis"): pc["label"], _("support"): pc["support"], _("AUC (one-vs-rest)"): pc["auc"].map(_fmt),
            _("sensitivity (95% CI)"): [f"{_fmt(s, True)} ({_fmt(lo, True)}–{_fmt(hi, True)})" for s, lo, hi in
                                     zip(pc["sensitivity"], pc["sensitivity_lo"], pc["sensitivity_hi"])],
            _("PPV (95% CI)"): [f"{_fmt(s, True)} ({_fmt(lo, True)}–{_fmt(hi, True)})" for s, lo, hi in
                             zip(pc["ppv"], pc["ppv_lo"], pc["ppv_hi"])],
        })
        blocks.append(Block("table", t))
        dd = (bundle.manifest.get("metrics") or {}).get("test_deduplicated")
        if dd:
            blocks.append(Block("text", _("Without near-duplicates of training texts (n = {n}): top-1 {top1}, top-3 "
                                          "{top3}, macro AUC {auc}.").format(
                                              n=dd.get("n"), top1=_fmt(dd.get("top1_accuracy"), True),
                                              top3=_fmt(dd.get("top3_accuracy"), True), auc=_fmt(dd.get("macro_auc")))))
    else:
        cal = summ["calibration"]
        at = summ["at_threshold"]
        blocks.append(Block("facts", [
            (_("AUC"), _ci(summ["auc"])), (_("Average precision"), _ci(summ["average_precision"])),
            (_("Brier score"), _ci(summ["brier"])), (_("Expected calibration error"), _fmt(summ["ece"])),
            (_("Calibration intercept (ideal 0)"), _ci({"estimate": cal["intercept"], "lo": cal["intercept_lo"], "hi": cal["intercept_hi"]})),
            (_("Calibration slope (ideal 1)"), _ci({"estimate": cal["slope"], "lo": cal["slope_lo"], "hi": cal["slope_hi"]})),
            (_("Observed / expected events"), _fmt(cal["observed_expected"])),
            (_("Sensitivity at {threshold}").format(threshold=f"{at['threshold']:g}"), _ci({"estimate": at["sensitivity"], "lo": at["sensitivity_lo"], "hi": at["sensitivity_hi"]}, True)),
            (_("Specificity at {threshold}").format(threshold=f"{at['threshold']:g}"), _ci({"estimate": at["specificity"], "lo": at["specificity_lo"], "hi": at["specificity_hi"]}, True)),
            (_("PPV at {threshold}").format(threshold=f"{at['threshold']:g}"), _ci({"estimate": at["ppv"], "lo": at["ppv_lo"], "hi": at["ppv_hi"]}, True)),
            (_("NPV at {threshold}").format(threshold=f"{at['threshold']:g}"), _ci({"estimate": at["npv"], "lo": at["npv_lo"], "hi": at["npv_hi"]}, True)),
        ]))
    for name, table in (subgroups or {}).items():
        blocks.append(Block("text", _("By subgroup — {name}:").format(name=name)))
        blocks.append(Block("table", subgroup_display(table)))
    if not subgroups:
        blocks.append(Block("warning", _("The test data carry no subgroup attributes (sex, age band, ethnicity, site): "
                                         "performance in those groups is untested.")))
    return Section("performance", _("Performance overall and by subgroup"), tuple(blocks), "Mitchell §4, §7; FDA CDS 4(c)(ii); M5")


def subgroup_display(table: pd.DataFrame) -> pd.DataFrame:
    """A subgroup table as strings with CIs, for display (column names in the active language)."""
    def ci(est, lo, hi, pct=False):
        return "–" if est is None or (isinstance(est, float) and math.isnan(est)) else (
            f"{_fmt(est, pct)} ({_fmt(lo, pct)}–{_fmt(hi, pct)})" if lo is not None and not (isinstance(lo, float) and math.isnan(lo))
            else _fmt(est, pct))
    if "auc" in table.columns:
        return pd.DataFrame({
            _("group"): table["group"], "n": table["n"], _("events"): table["events"],
            _("AUC (95% CI)"): [ci(*r) for r in zip(table["auc"], table["auc_lo"], table["auc_hi"])],
            _("calibration slope (95% CI)"): [ci(*r) for r in zip(table["calibration_slope"], table["calibration_slope_lo"], table["calibration_slope_hi"])],
            _("calibration intercept (95% CI)"): [ci(*r) for r in zip(table["calibration_intercept"], table["calibration_intercept_lo"], table["calibration_intercept_hi"])],
            _("sensitivity (95% CI)"): [ci(*r, pct=True) for r in zip(table["sensitivity"], table["sensitivity_lo"], table["sensitivity_hi"])],
            _("specificity (95% CI)"): [ci(*r, pct=True) for r in zip(table["specificity"], table["specificity_lo"], table["specificity_hi"])],
            _("flag"): table["flag"].map(translate),
        })
    return pd.DataFrame({
        _("group"): table["group"], "n": table["n"], _("diagnoses present"): table["diagnoses_present"],
        _("top-1 accuracy (95% CI)"): [ci(*r, pct=True) for r in zip(table["top1_accuracy"], table["top1_lo"], table["top1_hi"])],
        _("top-3 accuracy"): table["top3_accuracy"].map(lambda v: _fmt(v, True)),
        _("macro AUC (95% CI)"): [ci(*r) for r in zip(table["macro_auc"], table["macro_auc_lo"], table["macro_auc_hi"])],
        _("flag"): table["flag"].map(translate),
    })


def _limitations(bundle, evaluation, summ, subgroups) -> Section:
    m = bundle.manifest
    items = list(m.get("limitations") or [])
    if m.get("never_seen"):
        items.append(_("Never seen in training: {what}").format(what=m["never_seen"]))
    if summ:
        n = summ["cohort"]["n"]
        if n < 500:
            items.append(_("Small test set (n = {n}): confidence intervals are wide; performance in another setting "
                           "must be checked on local data (use External validation on the Evaluation page).").format(n=n))
        if summ["kind"] == "multiclass":
            pc = evaluation.per_class
            weak = pc[(pc["sensitivity"].fillna(0) < 0.7) & (pc["support"] > 0)]
            if len(weak):
                shown = weak.sort_values(["sensitivity", "support"], ascending=[True, False]).head(25)
                more = (" " + _("and {n} more (see the Evaluation page)").format(n=len(weak) - len(shown))
                        if len(weak) > len(shown) else "")
                items.append(_("Diagnoses the model often misses (test sensitivity < 70%; {k} of {n}): {list}").format(
                    k=len(weak), n=len(pc), list=", ".join(
                        _("{label} ({share} of {n})").format(label=r.label, share=f"{r.sensitivity:.0%}", n=r.support)
                        for r in shown.itertuples())) + more + ".")
            thin = pc[pc["support"] < 20]
            if len(thin):
                items.append(_("{k} of {n} diagnoses have fewer than 20 test cases: their figures are imprecise.").format(
                    k=len(thin), n=len(pc)))
            items.append(_("It can only suggest the diagnoses in its list; any other condition will be mislabelled as one "
                           "of them with a confident-looking probability."))
        else:
            cal = summ["calibration"]
            if cal["slope_lo"] is not None and not (cal["slope_lo"] <= 1 <= cal["slope_hi"]):
                items.append((_("Calibration slope {slope} (CI excludes 1): risks are too extreme on test data.")
                              if cal["slope"] < 1 else
                              _("Calibration slope {slope} (CI excludes 1): risks are too moderate on test data.")
                              ).format(slope=f"{cal['slope']:.2f}"))
    for name, t in (subgroups or {}).items():
        flagged = t[t["flag"].astype(str) != ""]
        if len(flagged):
            items.append(_("{name}: groups too small to judge — {groups}.").format(
                name=name, groups=", ".join(f"{g} (n={n})" for g, n in zip(flagged["group"], flagged["n"]))))
    src = str((m.get("training") or {}).get("data_source", ""))
    if "LLM" in src or "gretel" in src.lower():
        items.append(_("Training and test texts are LLM rewrites of a public data set, in a patient's voice, not real "
                       "clinical notes: performance on clinician-written notes is untested."))
    items.append(_("Untested groups: any population, setting or period not described under Training and test data."))
    return Section("limitations", _("Limitations, failure modes and untested groups"), (Block("list", items),),
                   "Mitchell §8–9; FDA CDS 4(c)(iii); M5")
