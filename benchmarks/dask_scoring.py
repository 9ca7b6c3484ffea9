"""Benchmark: scoring on Dask with 1 and 2 worker processes, beside the single-process path, same run.

    python benchmarks/dask_scoring.py [--rows 1000000 5000000] [--text-rows 20000] [--repeats 3]

Writes tabular CSVs (rows resampled from models/pima-diabetes' reference.csv, as
benchmarks/tabular_scoring.py does) and a text CSV (benchmarks/text_inference.py's synthetic cases).
For each file: ``score_csv`` in this process (the baseline), then ``score_distributed`` on a fresh
LocalCluster of 1 worker process and one of 2 (one thread each), both started and warmed up (every
worker loads the bundle) before the timed runs, which **alternate** 1-worker and 2-worker runs so both
see the same machine load. Printed per configuration: median wall time of ``--repeats`` runs, rows/s,
the workers' CPU seconds per run (summed over workers: the same work should cost the same CPU in both,
whatever the load), the workers' peak resident memory (fresh clusters per file, so it belongs to that
file's size: flat from 1M to 5M rows = streaming per part), and the load average before each run.

The machine is shared: read the 2-vs-1 ratio beside the load average; with every core busy with other
work, a second worker cannot get a core of its own.
"""
from __future__ import annotations

import argparse
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


def _worker_stats(client) -> tuple[float, float]:
    """(CPU seconds so far summed over workers, largest worker peak RSS in MB)."""
    def stats():
        import resource

        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024

    vals = list(client.run(stats).values())
    return sum(v[0] for v in vals), max(v[1] for v in vals)


def _load() -> str:
    return "{:.1f}/{:.1f}".format(*os.getloadavg()[:2])


def main() -> None:
    from dask.distributed import Client, LocalCluster

    from medviz.bundle import load_bundle
    from medviz.distributed import WORKER_ENV, score_distributed
    from medviz.scoring import score_csv
    from tabular_scoring import make_csv

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 5_000_000])
    ap.add_argument("--text-rows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--single-repeats", type=int, default=None, help="single-process runs (default --repeats)")
    ap.add_argument("--tabular-bundle", default=str(ROOT / "models" / "pima-diabetes"))
    ap.add_argument("--text-bundle", default=str(ROOT / "models" / "symptom-diagnosis"))
    args = ap.parse_args()
    print(f"load average {_load()} (1/5 min), {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for n in args.rows:
            make_csv(Path(args.tabular_bundle), n, tmp / f"tab{n}.csv")
            cases.append((f"tabular {n:,}", args.tabular_bundle, tmp / f"tab{n}.csv", None, n))
        if args.text_rows:
            _text_csv(args.text_rows, tmp / "text.csv")
            cases.append((f"text {args.text_rows:,}", args.text_bundle, tmp / "text.csv", "text", args.text_rows))
        make_csv(Path(args.tabular_bundle), 1000, tmp / "tab_small.csv")
        _text_csv(200, tmp / "text_small.csv")
        summary = []
        for name, bundle, src, col, rows in cases:
            b = load_bundle(bundle)
            walls = []
            for _ in range(args.single_repeats or args.repeats):
                load = _load()
                t0 = time.perf_counter()
                score_csv(b, src, tmp / "single.csv", text_column=col)
                walls.append(time.perf_counter() - t0)
            single = statistics.median(walls)
            print(f"{name:<18} single process   {single:8.2f} s {rows / single:9,.0f} rows/s  (load {load})", flush=True)
            small = tmp / ("text_small.csv" if col else "tab_small.csv")
            with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=logging.ERROR, env=WORKER_ENV) as c1, Client(c1) as k1, \
                 LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                              silence_logs=logging.ERROR, env=WORKER_ENV) as c2, Client(c2) as k2:
                clients = {1: k1, 2: k2}
                for n, k in clients.items():  # warm-up: every worker loads the bundle
                    for _ in range(2):
                        score_distributed(bundle, str(small), tmp / "warm", text_column=col, client=k, chunksize=50)
                res = {1: [], 2: []}
                for _ in range(args.repeats):
                    for n, k in clients.items():
                        cpu0, _peak = _worker_stats(k)
                        load = _load()
                        t0 = time.perf_counter()
                        score_distributed(bundle, str(src), tmp / f"parts{n}", text_column=col, client=k)
                        wall = time.perf_counter() - t0
                        cpu1, peak = _worker_stats(k)
                        res[n].append((wall, cpu1 - cpu0, peak, load))
                        print(f"{name:<18} dask {n} worker(s)  {wall:8.2f} s {rows / wall:9,.0f} rows/s  workers' CPU "
                              f"{cpu1 - cpu0:7.1f} s  worker peak {peak:5.0f} MB  (load {load})", flush=True)
            med = {n: statistics.median(w for w, *_ in r) for n, r in res.items()}
            cpu = {n: statistics.median(c for _, c, *_ in r) for n, r in res.items()}
            peak = {n: max(p for *_, p, _ in r) for n, r in res.items()}
            summary.append((name, single, med, cpu, peak))
        print("\nmedians (wall s)          single    1 worker  2 workers  2 vs 1  CPU s 1w / 2w   peak MB 1w / 2w")
        for name, single, med, cpu, peak in summary:
            print(f"{name:<24} {single:8.2f}  {med[1]:9.2f}  {med[2]:9.2f}  {med[1] / med[2]:5.2f}x  "
                  f"{cpu[1]:6.1f} / {cpu[2]:6.1f}   {peak[1]:5.0f} / {peak[2]:5.0f}")
        print(f"load average at the end {_load()}")


if __name__ == "__main__":
    main()
