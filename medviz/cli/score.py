"""`python -m medviz score`: score a CSV with a bundle, streaming in chunks."""
from __future__ import annotations

import argparse


def _cmd_score(args: argparse.Namespace) -> int:
    from medviz.bundle import load_bundle
    from medviz.scoring import score_csv

    bundle = load_bundle(args.model_dir)
    summary = score_csv(bundle, args.input, args.output, text_column=args.text_column, chunksize=args.chunksize,
                        explain=True if args.explain else None)
    print(f"scored {summary.rows} row(s) -> {args.output} ({summary.errors} with errors, {summary.warnings} with warnings)")
    return 0


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
    sc = sub.add_parser("score", help="score a CSV with a text or tabular bundle, streaming in chunks")
    sc.add_argument("model_dir")
    sc.add_argument("input")
    sc.add_argument("-o", "--output", required=True)
    sc.add_argument("--text-column", help="text bundles: the column holding the case text")
    sc.add_argument("--chunksize", type=int, default=None,
                    help="rows per chunk (default: 20,000 for text bundles, 100,000 for tabular)")
    sc.add_argument("--explain", action="store_true",
                    help="text bundles: add top_reasons (three strongest SHAP words per row; ~0.3-1 s per row)")
    sc.set_defaults(func=_cmd_score)
