"""Benchmark: scoring on Dask with 1 and 2 worker processes, beside the single-process path, same run.

    python benchmarks/dask_scoring.py [--rows 500000] [--text-rows 20000] [--repeats 3]

Writes a tabular CSV (rows resampled from models/pima-diabetes' reference.csv, as
benchmarks/tabular_scoring.py does) and a text CSV (benchmarks/text_inference.py's synthetic cases), then for each: ``score_csv`` in this process, and ``score_distributed`` on a LocalCluster
of 1 and of 2 worker processes (one thread each). Each cluster is started once and warmed up (every
worker loads the bundle on a small file) before the timed runs, so the figures are scoring only:
median wall time of ``--repeats`` runs, rows/s, and the workers' peak resident memory.

Honesty about the machine: the client (reading CSV with pyarrow, writing parts) runs beside the
workers, and this machine has 2 cores shared with other work, so 2 workers cannot reach 2x here;
the printed load average says how busy the machine was.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _text_csv(rows: int, path: Path) -> None:
    import pandas as pd
    from text_inference import make_cases  # the text benchmark's own synthetic cases

    pd.DataFrame({"id": range(rows), "text": make_cases(rows)}).to_csv(path, index=False)


def _peak_rss_mb(client) -> float:
    def rss():
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return max(client.run(rss).values())


def _time(fn, repeats: int) -> float:
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main() -> None:
    from dask.distributed import Client, LocalCluster

    from medviz.bundle import load_bundle
    from medviz.distributed import score_distributed
    from medviz.scoring import score_csv
    from tabular_scoring import make_csv

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--text-rows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tabular-bundle", default=str(ROOT / "models" / "pima-diabetes"))
    ap.add_argument("--text-bundle", default=str(ROOT / "models" / "symptom-diagnosis"))
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        if args.rows:
            make_csv(Path(args.tabular_bundle), args.rows, tmp / "tab.csv")
            make_csv(Path(args.tabular_bundle), 1000, tmp / "tab_small.csv")
            cases.append(("tabular", args.tabular_bundle, tmp / "tab.csv", tmp / "tab_small.csv", None, args.rows))
        if args.text_rows:
            _text_csv(args.text_rows, tmp / "text.csv")
            _text_csv(200, tmp / "text_small.csv")
            cases.append(("text", args.text_bundle, tmp / "text.csv", tmp / "text_small.csv", "text", args.text_rows))
        results = {}
        for name, bundle, src, small, col, rows in cases:
            b = load_bundle(bundle)
            single = _time(lambda: score_csv(b, src, tmp / "single.csv", text_column=col), args.repeats)
            results[(name, "single process")] = (single, None)
            print(f"{name:<8} single process  {single:7.2f} s  {rows / single:10,.0f} rows/s", flush=True)
        for n in (1, 2):
            env = {"TF_CPP_MIN_LOG_LEVEL": "3", "MEDVIZ_TF_INTRA_THREADS": "1", "MEDVIZ_TF_INTER_THREADS": "1",
                   "OMP_NUM_THREADS": "1"}
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=logging.ERROR, env=env) as cluster, Client(cluster) as client:
                for name, bundle, src, small, col, rows in cases:
                    chunk = 20_000 if col else 100_000
                    for _ in range(2 * n):  # warm-up: every worker loads the bundle
                        score_distributed(bundle, str(small), tmp / "warm", text_column=col, client=client,
                                          chunksize=max(1, 1000 // (2 * n)))
                    wall = _time(lambda: score_distributed(bundle, str(src), tmp / "parts", text_column=col,
                                                           chunksize=chunk, client=client), args.repeats)
                    results[(name, n)] = (wall, _peak_rss_mb(client))
                    print(f"{name:<8} dask {n} worker(s) {wall:7.2f} s  {rows / wall:10,.0f} rows/s  "
                          f"worker peak {results[(name, n)][1]:.0f} MB", flush=True)
        for name, *_ in cases:
            one, two = results[(name, 1)][0], results[(name, 2)][0]
            print(f"{name:<8} 2 workers vs 1: {one / two:.2f}x; vs single process: {results[(name, 'single process')][0] / two:.2f}x")
        print(json.dumps({f"{k[0]} {k[1]}": v[0] for k, v in results.items()}))


if __name__ == "__main__":
    main()
