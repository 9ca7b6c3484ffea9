"""Benchmark: files over the reading limits are refused fast and in little memory (issue 17 item 9).

    python benchmarks/limits.py [--line-gb 1.0] [--columns 1000000] [--repeats 3]

Writes, into a temporary folder, a CSV whose header has ``--columns`` columns (7.9 MB at a million,
under the Batch page's 10 MB upload cap) and a CSV whose second line is ``--line-gb`` GB long, then
runs each refusal in a fresh Python process (so ``ru_maxrss`` is that run's alone):

* ``cli``    medviz.io.iter_csv_chunks on the file path (what ``python -m medviz score`` reads with);
* ``upload`` medviz.scoring.read_columns on the file's bytes (the Batch page's first call), for the
             wide file only (a 1 GB file is over the upload cap).

It prints the median wall time of the refusal (imports excluded), the process's peak resident
memory, and the same process's memory after the imports alone (Python + pandas + pyarrow), so the
refusal's own cost is the difference. Target (issue 17): under 2 s and under 200 MB.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _worker(kind: str, path: str) -> None:
    import resource
    import time

    from medviz.errors import LimitError
    from medviz.io import iter_csv_chunks
    from medviz.scoring import read_columns

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    message = ""
    try:
        if kind == "upload":
            read_columns(Path(path).read_bytes())
        else:
            for _ in iter_csv_chunks(path, bad_lines="report"):
                pass
    except LimitError as exc:
        message = str(exc)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "peak_mb": peak, "import_mb": base, "message": message}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--line-gb", type=float, default=1.0)
    ap.add_argument("--columns", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", choices=["cli", "upload"])
    ap.add_argument("--path")
    args = ap.parse_args()
    if args.worker:
        _worker(args.worker, args.path)
        return
    with tempfile.TemporaryDirectory() as tmp:
        wide = Path(tmp) / "wide.csv"
        with open(wide, "wb") as f:
            f.write(b",".join(b"c%d" % i for i in range(args.columns)) + b"\n")
            f.write(b",".join(b"1" for _ in range(args.columns)) + b"\n")
        long = Path(tmp) / "long.csv"
        block = b"x" * (64 << 20)
        with open(long, "wb") as f:
            f.write(b"id,note\n1,")
            left = int(args.line_gb * (1 << 30))
            while left > 0:
                f.write(block[: min(left, len(block))])
                left -= len(block)
            f.write(b"\n")
        print(f"wide: {args.columns:,} columns, {wide.stat().st_size / 1e6:.1f} MB; long: one line of "
              f"{long.stat().st_size / (1 << 30):.2f} GB")
        for label, kind, path in (("wide, CLI reader", "cli", wide), ("wide, Batch page", "upload", wide),
                                  ("1 GB line, CLI reader", "cli", long)):
            runs = []
            for _ in range(args.repeats):
                out = subprocess.run([sys.executable, __file__, "--worker", kind, "--path", str(path)],
                                     capture_output=True, text=True, check=True, env={**os.environ})
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            wall = statistics.median(r["wall"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            base = statistics.median(r["import_mb"] for r in runs)
            print(f"{label:<24} refused in {wall * 1000:7.1f} ms, peak {peak:6.0f} MB "
                  f"(imports alone {base:.0f} MB): {runs[0]['message'][:90]}")


if __name__ == "__main__":
    main()
