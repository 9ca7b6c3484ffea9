"""`python -m medviz evaluate`: external validation on a labelled CSV; the same result the Evaluation page draws."""
from __future__ import annotations

import argparse


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from medviz.bundle import load_bundle
    from medviz.evaluation import evaluate_external, summary_json
    from medviz.io import read_table

    bundle = load_bundle(args.model_dir)
    table = read_table(args.labelled)
    result = evaluate_external(bundle, table, args.label_column, text_column=args.text_column,
                               resamples=args.resamples, seed=args.seed)
    summary = summary_json(result.evaluation, shift=result.shift, notes=result.notes)
    summary["model"] = {"name": bundle.name, "version": bundle.version, "path": str(bundle.path)}
    print(format_evaluation(summary))
    if args.json:
        from medviz.io import OutputTarget

        with OutputTarget(args.json) as target:  # a temporary name, renamed when written
            target.tmp.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def format_evaluation(s: dict) -> str:
    """Plain-text report of :func:`medviz.evaluation.summary_json` output."""

    def ci(d, pct=False):
        if not d or d.get("estimate") is None:
            return "not estimable"
        f = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:.3f}")
        return f(d["estimate"]) + (f" (95% CI {f(d['lo'])}-{f(d['hi'])})" if d.get("lo") is not None else "")

    c = s["cohort"]
    lines = [f"model {s['model']['name']} v{s['model']['version']} -- {c['source']}", f"rows evaluated: {c['n']}"]
    for reason, k in (c.get("excluded") or {}).items():
        lines.append(f"rows left out: {k} ({reason})")
    if s["kind"] == "multiclass":
        lines += [f"top-1 accuracy: {ci(s['top1_accuracy'], True)}", f"top-3 accuracy: {ci(s['top3_accuracy'], True)}",
                  f"macro one-vs-rest AUC: {ci(s['macro_auc'])}", f"top-label ECE: {s['top_label_ece']:.3f}",
                  "per diagnosis (support, AUC, sensitivity, PPV):"]
        for r in s["per_diagnosis"]:
            f = lambda v, p=True: "-" if v is None else (f"{v:.0%}" if p else f"{v:.3f}")  # noqa: E731
            lines.append(f"  {r['label']:<32} {r['support']:>5}  {f(r['auc'], False):>6}  {f(r['sensitivity']):>5}  {f(r['ppv']):>5}")
    else:
        cal, at = s["calibration"], s["at_threshold"]
        lines += [f"events: {c['events']} (prevalence {c['prevalence']:.1%}), positive = {s['positive_label']}",
                  f"AUC: {ci(s['auc'])}", f"average precision: {ci(s['average_precision'])}", f"Brier score: {ci(s['brier'])}",
                  f"ECE: {s['ece']:.3f}",
                  f"calibration intercept: {ci({'estimate': cal['intercept'], 'lo': cal['intercept_lo'], 'hi': cal['intercept_hi']})}",
                  f"calibration slope: {ci({'estimate': cal['slope'], 'lo': cal['slope_lo'], 'hi': cal['slope_hi']})}"
                  + (f"  [{cal['note']}]" if cal.get("note") else ""),
                  f"at threshold {at['threshold']:g} ({s['threshold_source']}):",
                  f"  TP {at['tp']}  FP {at['fp']}  FN {at['fn']}  TN {at['tn']}"]
        for k in ("sensitivity", "specificity", "ppv", "npv"):
            lines.append(f"  {k}: {ci({'estimate': at[k], 'lo': at[k + '_lo'], 'hi': at[k + '_hi']}, True)}")
    b = s.get("bootstrap", {})
    lines.append(f"bootstrap: {b.get('resamples')} stratified resamples, seed {b.get('seed')}")
    if s.get("cohort_shift"):
        lines.append(f"cohort vs training: {s['cohort_shift']['verdict']}")
    for n in s.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
    ev = sub.add_parser("evaluate", help="evaluate a bundle on a labelled CSV or Parquet file (external validation)")
    ev.add_argument("model_dir")
    ev.add_argument("labelled", help="CSV or Parquet file with the model's inputs and a label column")
    ev.add_argument("--label-column", required=True,
                    help="true outcome: 0/1, true/false, or the outcome's own values (Yes/No; diagnosis names)")
    ev.add_argument("--text-column", help="text bundles: the column holding the case text")
    ev.add_argument("--json", help="also write every figure as JSON to this file")
    ev.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ev.add_argument("--seed", type=int, default=20240501, help="bootstrap seed")
    ev.set_defaults(func=_cmd_evaluate)
