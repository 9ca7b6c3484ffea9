"""`python -m medviz explain text-importance`: explanation artefacts written into a bundle."""
from __future__ import annotations

import argparse

from medviz.errors import InputError


def _cmd_explain_text_importance(args: argparse.Namespace) -> int:
    from medviz.bundle import add_bundle_file, load_bundle
    from medviz.explain import TEXT_IMPORTANCE_FILE, TextExplainer, global_text_importance
    from medviz.io import read_labelled
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(args.model_dir)
    cols = [args.text_column] + ([args.label_column] if args.label_column else [])
    df = read_labelled(args.data, cols)
    if args.per_label:  # wide label sets (801 diagnoses): at most K texts of each diagnosis, a seeded sample
        if not args.label_column:
            raise InputError("--per-label needs --label-column")
        df = (df.sample(frac=1.0, random_state=args.seed).groupby(args.label_column, sort=False).head(args.per_label)
              .sort_index())
    explainer = TextExplainer.from_predictor(TextPredictor.from_bundle(bundle), max_evals=args.max_evals)
    labels = df[args.label_column].astype(str).tolist() if args.label_column else None
    table = global_text_importance(explainer, df[args.text_column].astype(str).tolist(), labels,
                                   top_n=args.top, min_count=args.min_count)
    table.attrs.clear()
    add_bundle_file(bundle.path, TEXT_IMPORTANCE_FILE, table.to_csv(index=False).encode("utf-8"))
    print(f"wrote {TEXT_IMPORTANCE_FILE} ({len(table)} rows, {table['diagnosis'].nunique()} diagnoses) into {bundle.path}")
    return 0


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
    ex = sub.add_parser("explain", help="explanation artefacts for a bundle")
    esub = ex.add_subparsers(dest="kind", required=True)
    ti = esub.add_parser("text-importance", help="per-diagnosis word table (mean SHAP) written into a text bundle")
    ti.add_argument("model_dir")
    ti.add_argument("--data", required=True, help="texts to explain (.csv or .jsonl), e.g. the held-out test file")
    ti.add_argument("--text-column", required=True)
    ti.add_argument("--label-column", help="true diagnoses (else each text counts for its top prediction)")
    ti.add_argument("--top", type=int, default=15, help="words kept per diagnosis")
    ti.add_argument("--min-count", type=int, default=2, help="occurrences a word needs")
    ti.add_argument("--per-label", type=int, default=0,
                    help="explain at most this many texts per diagnosis (seeded sample; for wide label sets)")
    ti.add_argument("--max-evals", type=int, default=400, help="model evaluations per text (SHAP Partition)")
    ti.add_argument("--seed", type=int, default=0, help="seed of the --per-label sample")
    ti.set_defaults(func=_cmd_explain_text_importance)
