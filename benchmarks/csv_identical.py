"""Check that this checkout's scored CSV is the same as a baseline checkout's, on the same input file.

    python benchmarks/csv_identical.py --baseline DIR INPUT.csv [INPUT2.csv ...]
                                       [--model models/differential-801] [--text-column note]
                                       [--tolerance 1e-6] [--chunksize N]

DIR is another checkout (e.g. the previous release: ``mkdir /tmp/base && git archive ebb5a9f | tar -x -C
/tmp/base``); each side runs ``python -m medviz score`` with its own code and the same bundle (this
checkout's, so only the code differs). Prints, per input, whether the two files are byte-identical; if
not, which columns differ and in how many rows (probabilities compared as written: 6 decimals), and exits
non-zero. Inputs used for the CSV-speed work (issue 15): cases from ``python -m medviz synth --kb
../shared/data/symcat --per-condition 3 --seed 5`` (2,403) and 25 per condition (20,025), long notes joined
from them (up to past the last window), the Chinese vignettes (benchmarks/data/vignettes_zh_en.csv), empty,
formula-like and quoted cells, repeated texts.

``--tolerance T``: numeric cells may differ by at most T (text cells must still be equal); a difference within
it is reported with its count and largest size, and is not a failure. 1e-6 is one unit of the written 6th
decimal, the float32 network's noise between chunkings (docs/ARCHITECTURE.md, "CSV scoring speed").
``--chunksize``: passed to both sides (compare the code at the same chunking).
"""
from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def score(code: Path, model: Path, source: Path, out: Path, text_column: str, extra: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "medviz", "score", str(model), str(source), "-o", str(out),
                    "--text-column", text_column, *extra], cwd=code, env={**os.environ, "PYTHONPATH": str(code)},
                   check=True, capture_output=True, text=True)


def differences(a: Path, b: Path, tolerance: float = 0.0) -> tuple[list[str], list[str]]:
    """(failures, within tolerance): column-level differences between two scored CSVs (every cell read as
    text; cells that are numbers on both sides compared as numbers when ``tolerance`` > 0)."""
    import numpy as np
    import pandas as pd

    x = pd.read_csv(a, dtype=str, keep_default_na=False)
    y = pd.read_csv(b, dtype=str, keep_default_na=False)
    if list(x.columns) != list(y.columns):
        return [f"columns differ: {len(x.columns)} vs {len(y.columns)}"], []
    if len(x) != len(y):
        return [f"rows differ: {len(x)} vs {len(y)}"], []
    bad, close = [], []
    for c in x.columns:
        diff = (x[c] != y[c]).to_numpy()
        if not diff.any():
            continue
        if tolerance > 0:
            u = pd.to_numeric(x[c][diff], errors="coerce").to_numpy(dtype=float)
            v = pd.to_numeric(y[c][diff], errors="coerce").to_numpy(dtype=float)
            gap = np.abs(u - v)
            if np.isfinite(gap).all() and (gap <= tolerance * (1 + 1e-9)).all():
                close.append(f"{c}: {int(diff.sum())} rows, at most {gap.max():.1e}")
                continue
        bad.append(f"{c}: {int(diff.sum())} rows")
    return bad, close


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--baseline", required=True, help="another checkout of medviz")
    ap.add_argument("--model", default=str(ROOT / "models" / "differential-801"))
    ap.add_argument("--text-column", default="note")
    ap.add_argument("--tolerance", type=float, default=0.0, help="numeric cells may differ by this much (default 0)")
    ap.add_argument("--chunksize", type=int, help="rows per chunk on both sides (default: each side's own)")
    args = ap.parse_args(argv)
    model = Path(args.model).resolve()
    extra = ["--chunksize", str(args.chunksize)] if args.chunksize else []
    failed = False
    with tempfile.TemporaryDirectory() as d:
        for i, source in enumerate(map(Path, args.inputs)):
            base, this = Path(d) / f"base{i}.csv", Path(d) / f"this{i}.csv"
            score(Path(args.baseline).resolve(), model, source.resolve(), base, args.text_column, extra)
            score(ROOT, model, source.resolve(), this, args.text_column, extra)
            if filecmp.cmp(base, this, shallow=False):
                print(f"{source}: byte-identical ({this.stat().st_size:,} bytes)")
                continue
            bad, close = differences(base, this, args.tolerance)
            if close:
                print(f"{source}: within {args.tolerance:g}: " + "; ".join(close))
            if bad or not close:
                failed = True
                print(f"{source}: DIFFERENT: " + "; ".join(bad or ["bytes only (same cells)"]))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
