"""``python -m medviz import MODEL_FILE --task text|tabular ...``: the command line of the importer."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medviz.errors import InputError

HELP = "import a Keras model trained elsewhere (.keras or .h5) into a calibrated, tested bundle"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("import", help=HELP, description=HELP)
    p.add_argument("model_file", metavar="MODEL_FILE", help="the model: .keras (Keras 3) or legacy .h5")
    p.add_argument("--task", required=True, choices=["text", "tabular"])
    p.add_argument("--data", required=True, help="labelled CSV (text: CSV or JSONL) split into calibration and test parts")
    p.add_argument("--label-column", required=True)
    p.add_argument("--text-column", help="text: the column holding the case text")
    p.add_argument("--tokenizer", help="text, token-id models: the Keras Tokenizer's JSON (tokenizer.to_json())")
    p.add_argument("--sequence-length", type=int, help="text: pad_sequences maxlen the model was trained with")
    p.add_argument("--padding", choices=["pre", "post"], default="pre", help="pad_sequences padding (Keras default: pre)")
    p.add_argument("--truncating", choices=["pre", "post"], default="pre", help="pad_sequences truncating (Keras default: pre)")
    p.add_argument("--positive", help="binary models: the label value the model's output is the probability of")
    p.add_argument("--labels", help="multiclass: every label in the model's output order, comma-separated "
                                    "(default: 0..C-1 for numbered classes, else sorted)")
    p.add_argument("--feature-spec", help="tabular: JSON {\"features\": [{name, label, unit, min, max}, ...]} in the model's input order")
    p.add_argument("--yes", action="store_true", help="tabular without --feature-spec: accept the inferred features without asking")
    p.add_argument("--name", required=True)
    p.add_argument("--out", required=True, help="bundle folder to write, e.g. models/NAME")
    p.add_argument("--title", default="")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--imported-by", help="who imports it (default: the login name)")
    p.add_argument("--calibration-fraction", type=float, default=0.5, help="share of the labelled rows used to calibrate (rest: test)")
    p.add_argument("--coverage", type=float, default=0.90, help="text: conformal set coverage")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--data-source", default="", help="where the model's training data came from (model card)")
    p.add_argument("--data-licence", default="")
    p.add_argument("--data-dates", default="")
    p.set_defaults(func=run)
    return p


def _confirm_features(specs, assume_yes: bool) -> None:
    from medviz.importer.tabular import specs_table

    print("Features inferred from the data, in the model's input order (no --feature-spec given; the bundle records the ranges of the calibration part):")
    print(specs_table(specs))
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise InputError(
            "features inferred, not confirmed: re-run with --yes to accept them, or give --feature-spec with units and limits"
        )
    answer = input("Import with these features? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise InputError("import cancelled: give --feature-spec with the model's features (names, units, limits)")


def run(args: argparse.Namespace) -> int:
    from medviz.importer.core import ImportOptions

    opts = ImportOptions(
        name=args.name, label_column=args.label_column, version=args.version, title=args.title, seed=args.seed,
        calibration_fraction=args.calibration_fraction, conformal_coverage=args.coverage, imported_by=args.imported_by,
        data_source=args.data_source, data_licence=args.data_licence, data_dates=args.data_dates,
    )
    data_path = Path(args.data)
    if args.task == "text":
        if not args.text_column:
            raise InputError("--task text needs --text-column (the column holding the case text)")
        if args.feature_spec:
            raise InputError("--feature-spec is for --task tabular")
        from medviz.importer.text import import_text_model
        from medviz.io import read_labelled

        data = read_labelled(data_path, [args.text_column, args.label_column])
        labels = [v.strip() for v in args.labels.split(",")] if args.labels else None
        out = import_text_model(
            args.model_file, data, args.out, opts, text_column=args.text_column, tokenizer_file=args.tokenizer,
            sequence_length=args.sequence_length, padding=args.padding, truncating=args.truncating,
            positive=args.positive, labels=labels, data_path=data_path,
        )
    else:
        if args.tokenizer or args.text_column:
            raise InputError("--tokenizer and --text-column are for --task text")
        from medviz.importer.tabular import import_tabular_model, infer_feature_specs
        from medviz.tabular.train import load_table, read_feature_spec_file

        data = load_table(args.data)
        spec = read_feature_spec_file(args.feature_spec) if args.feature_spec else None
        if spec is None:
            _confirm_features(infer_feature_specs(data, args.label_column), args.yes)
        out = import_tabular_model(args.model_file, data, args.out, opts, positive=args.positive, feature_spec=spec,
                                   data_path=data_path)
    _report(out)
    return 0


def _report(out: Path) -> None:
    from medviz.bundle import read_manifest

    m = read_manifest(out)
    test = m["metrics"]["test"]
    if m["task"] == "tabular_binary":
        fig = f"AUC {test['auc']:.3f}, Brier {test['brier']:.3f}, calibration slope {test['calibration_slope']:.2f}"
    else:
        fig = f"top-1 {test['top1_accuracy']:.1%}, ECE {test['ece']:.3f}"
        if "conformal" in test:
            fig += f", conformal coverage {test['conformal']['coverage']:.1%} (target {m['conformal']['coverage']:.0%})"
    imp = m["import"]
    print(f"imported {imp['source_file']} (SHA-256 {imp['source_sha256'][:12]}…) as '{m['name']}' -> {out}")
    print(f"labels: {', '.join(map(str, m['labels']))}")
    print(f"calibration: {m['calibration']['method']} on {m['training']['n_calibration']} rows")
    print(f"test ({test['n']} rows): {fig}")
    print("serve it: streamlit run app.py (the sidebar lists every bundle under models/ or $MEDVIZ_MODELS_DIR)")
