"""`python -m medviz score`: score a CSV with a bundle, streaming in chunks."""
from __future__ import annotations

import argparse


def _cmd_score(args: argparse.Namespace) -> int:
    from medviz.bundle import load_bundle
    from medviz.errors import InputError
    from medviz.scoring import make_scorer, score_csv

    bundle = load_bundle(args.model_dir)
    if args.top_k is not None and not bundle.is_text:
        raise InputError(f"--top-k applies to text bundles; '{bundle.name}' is a {bundle.task} bundle")
    scorer = make_scorer(bundle, text_column=args.text_column, explain=True if args.explain else None,
                         top_k=args.top_k) if args.top_k is not None else None
    summary = score_csv(bundle, args.input, args.output, text_column=args.text_column, chunksize=args.chunksize,
                        explain=True if args.explain else None, scorer=scorer)
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
    sc.add_argument("--top-k", type=int, default=None, metavar="K",
                    help="text bundles: write top_1..top_K and top_1_probability.. instead of one prob_<label> per class")
    sc.set_defaults(func=_cmd_score)
