"""`python -m medviz score`: score a CSV or Parquet file with a bundle, streaming in chunks, in this
process or on a Dask cluster (``--engine dask``)."""
from __future__ import annotations

import argparse
import sys


def limits_from_args(args: argparse.Namespace):
    """:class:`medviz.io.ReadLimits` from the ``--max-*`` flags (0 lifts a cap)."""
    from medviz.io import DEFAULT_LIMITS, ReadLimits

    def cap(value, default):
        return default if value is None else (value or None)

    return ReadLimits(max_columns=cap(args.max_columns, DEFAULT_LIMITS.max_columns),
                      max_rows=cap(args.max_rows, DEFAULT_LIMITS.max_rows),
                      max_line_bytes=cap(args.max_line_bytes, DEFAULT_LIMITS.max_line_bytes),
                      max_cell_chars=cap(args.max_cell_chars, DEFAULT_LIMITS.max_cell_chars))


def _cmd_score(args: argparse.Namespace) -> int:
    from medviz.distributed import terminal_progress

    limits = limits_from_args(args)
    explain = True if args.explain else None
    progress = terminal_progress(sys.stderr) if sys.stderr.isatty() or args.progress else None
    if args.engine == "dask" and args.top_k is not None:
        from medviz.errors import InputError

        raise InputError("--top-k needs --engine local")
    if args.engine == "dask":
        from medviz.distributed import score_distributed

        summary = score_distributed(args.model_dir, args.input, args.output, text_column=args.text_column,
                                    chunksize=args.chunksize, explain=explain, scheduler=args.scheduler,
                                    workers=args.workers, fmt=args.format, single_csv=args.single_csv,
                                    limits=limits, progress=progress)
    else:
        from medviz.bundle import load_bundle
        from medviz.errors import InputError
        from medviz.scoring import score_csv

        if args.scheduler or args.workers or args.single_csv:
            raise InputError("--scheduler, --workers and --single-csv need --engine dask")
        bundle = load_bundle(args.model_dir)
        scorer = None
        if args.top_k is not None:  # wide label sets (issue 15)
            from medviz.scoring import make_scorer

            if not bundle.is_text:
                raise InputError(f"--top-k applies to text bundles; '{bundle.name}' is a {bundle.task} bundle")
            scorer = make_scorer(bundle, text_column=args.text_column, explain=explain, top_k=args.top_k)
        summary = score_csv(bundle, args.input, args.output, text_column=args.text_column, chunksize=args.chunksize,
                            prepare_processes=args.prepare_processes,
                            explain=explain, limits=limits, fmt=args.format, progress=progress, scorer=scorer)
    if progress:
        sys.stderr.write("\n" if sys.stderr.isatty() else "")
    for note in summary.notes:
        print(f"note: {note}")
    print(f"scored {summary.rows} row(s) -> {args.output} ({summary.errors} with errors, {summary.warnings} with warnings)")
    return 0


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
    sc = sub.add_parser("score", help="score a CSV or Parquet file with a text or tabular bundle, streaming in chunks")
    sc.add_argument("model_dir")
    sc.add_argument("input", help="a CSV or Parquet file (with --engine dask also a glob, quoted: 'data/*.csv')")
    sc.add_argument("-o", "--output", required=True,
                    help="output file (.csv, or .parquet/.pq for Parquet); with --engine dask a folder of parts. "
                         "Written under a temporary name and renamed at the end; if the run fails, an earlier "
                         "output at this path is renamed to OUTPUT.stale")
    sc.add_argument("--text-column", help="text bundles: the column holding the case text")
    sc.add_argument("--chunksize", type=int, default=None,
                    help="rows per chunk (default: 4,096 for text bundles, 100,000 for tabular)")
    sc.add_argument("--prepare-processes", type=int, choices=[0, 1], default=None,
                    help="text bundles, --engine local: 1 = input checks, preprocessing and the knowledge-base "
                         "expert's reading in a worker process from the second chunk on, or from the first when it is "
                         "a full chunk (default when the machine has 2+ cores), 0 = all in this process")
    sc.add_argument("--explain", action="store_true",
                    help="text bundles: add top_reasons (three strongest SHAP words per row; ~0.3-1 s per row)")
    sc.add_argument("--format", choices=["csv", "parquet"],
                    help="output format (default: from the output name; with --engine dask, Parquet parts)")
    sc.add_argument("--progress", action="store_true", help="print progress even when stderr is not a terminal")
    sc.add_argument("--top-k", type=int, default=None, metavar="K",
                    help="text bundles: write top_1..top_K and top_1_probability.. instead of one prob_<label> per class")
    dk = sc.add_argument_group("Dask (docs/ARCHITECTURE.md, 'Scoring on Dask')")
    dk.add_argument("--engine", choices=["local", "dask"], default="local",
                    help="local: this process (default); dask: a Dask cluster")
    dk.add_argument("--scheduler", metavar="ADDRESS",
                    help="an existing Dask scheduler (tcp://host:8786); default: a LocalCluster started and stopped here")
    dk.add_argument("--workers", type=int, help="worker processes of the LocalCluster (default 2)")
    dk.add_argument("--single-csv", action="store_true",
                    help="write one CSV file at OUTPUT instead of a folder of parts")
    lim = sc.add_argument_group("limits, checked before parsing (0 lifts one)")
    lim.add_argument("--max-columns", type=int, help="columns in the header (default 2,000)")
    lim.add_argument("--max-rows", type=int, help="data lines (default: no cap; the Batch page: 500,000)")
    lim.add_argument("--max-line-bytes", type=int, help="bytes per line (default 1 MB = 1,048,576)")
    lim.add_argument("--max-cell-chars", type=int, help="characters per cell (default 100,000)")
    sc.set_defaults(func=_cmd_score)
