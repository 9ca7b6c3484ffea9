"""Benchmark: score a 1,000,000-row tabular CSV end to end, beside the bare pandas pipeline.

    python benchmarks/tabular_scoring.py [--rows 1000000] [--small-rows 100000] [--repeats 3]
                                         [--bundle models/pima-diabetes] [--chunksize 100000]

The script writes its own CSVs (rows resampled from the bundle's reference.csv with a little noise,
an ``id`` column, and 0.1 % blank / 0.05 % non-numeric / 0.01 % impossible cells, so validation has
something to report) into a temporary folder, then runs, each in a fresh Python process so that
peak memory (ru_maxrss) belongs to one run only:

* ``medviz``   medviz.scoring.score_csv, everything the scored-CSV contract asks for: pyarrow
               streaming read (all columns as text) -> per-row validation (missing, non-numeric,
               impossible, extrapolation) -> compiled model (risk + log-odds) -> exact Shapley values
               (logit-additive path, tabulated coalition values) -> top_reasons / risk band / flags /
               warnings built column-wise in Arrow -> formula neutralising -> CSV rendered with
               pyarrow kernels, streaming; scoring of a chunk overlaps reading and writing (2 threads);
* ``baseline`` pandas.read_csv (whole file) -> the same compiled model -> DataFrame.to_csv, with no
               validation at all.

It prints the median wall time over ``--repeats`` runs (model loading excluded and shown apart) and
the peak resident memory, for the large file and for a 10x smaller one: flat memory from 100k to 1M
rows means the streaming works. Targets (issue 4): 1M rows <= 10 s, peak <= 1.5 GB, on 2 cores.
'score' includes building the scorer (explainer + its coalition table, ~0.5 s); 'cpu s' is the CPU
time of the whole process over that step (both threads). The machine is shared: report ``uptime``'s
load average beside the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_csv(bundle_dir: Path, rows: int, path: Path, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    ref = pd.read_csv(bundle_dir / "reference.csv")
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    specs = manifest["inputs"]["features"]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(ref), rows)
    cols = {"id": pa.array(np.arange(rows))}
    for s in specs:
        base = ref[s["name"]].to_numpy(dtype=float)[pick]
        sd = np.nanstd(ref[s["name"]].to_numpy(dtype=float)) * 0.05
        v = base + rng.normal(0, sd, rows)
        v = np.maximum(v, s["min"] if s["min"] is not None else -np.inf)
        v = np.round(v) if s["type"] == "integer" else np.round(v, 3)
        arr = pc.cast(pa.array(v.astype("int64") if s["type"] == "integer" else v), pa.string())
        blank = rng.random(rows) < 0.001
        arr = pc.if_else(pa.array(blank), pa.scalar("", pa.string()), arr)
        cols[s["name"]] = arr
    # A few cells a validator must catch.
    glu = cols[specs[1]["name"]].to_numpy(zero_copy_only=False).astype(object)
    glu[rng.random(rows) < 0.0005] = "high"
    glu[rng.random(rows) < 0.0001] = "10000"
    cols[specs[1]["name"]] = pa.array(glu, type=pa.string())
    pacsv.write_csv(pa.table(cols), str(path), pacsv.WriteOptions(quoting_style="none"))


def worker(kind: str, bundle_dir: str, src: str, out: str, chunksize: int) -> None:
    import resource

    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer, score_csv
    from medviz.tabular.predict import TabularPredictor

    t0 = time.perf_counter()
    bundle = load_bundle(bundle_dir)
    predictor = TabularPredictor.from_bundle(bundle)
    load_s = time.perf_counter() - t0
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    if kind == "medviz":
        summary = score_csv(bundle, src, out, chunksize=chunksize, scorer=make_scorer(bundle, predictor=predictor))
        rows, errors = summary.rows, summary.errors
    else:
        import numpy as np
        import pandas as pd

        df = pd.read_csv(src)
        # The "high" cells make read_csv type that column as text; coerce them to NaN (no message).
        x = df[predictor.feature_names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
        df["risk"] = predictor.predict(x)
        df.to_csv(out, index=False)
        rows, errors = len(df), 0
    score_s = time.perf_counter() - t1
    ru2 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (ru2.ru_utime - ru1.ru_utime) + (ru2.ru_stime - ru1.ru_stime)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"kind": kind, "rows": rows, "errors": errors, "load_s": load_s, "score_s": score_s, "cpu_s": cpu_s,
                      "rss_loaded_mb": rss_loaded, "peak_mb": peak}))


def run(kind: str, bundle: Path, src: Path, out: Path, chunksize: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--bundle", str(bundle), "--src", str(src),
           "--out", str(out), "--chunksize", str(chunksize)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small-rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bundle", default=str(ROOT / "models" / "pima-diabetes"))
    ap.add_argument("--chunksize", type=int, default=100_000)
    ap.add_argument("--worker", choices=["medviz", "baseline"])
    ap.add_argument("--src")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.bundle, args.src, args.out, args.chunksize)
        return

    bundle = Path(args.bundle)
    with tempfile.TemporaryDirectory(prefix="medviz-bench-") as tmp:
        tmp = Path(tmp)
        files = {}
        for n in (args.small_rows, args.rows):
            files[n] = tmp / f"rows_{n}.csv"
            t = time.perf_counter()
            make_csv(bundle, n, files[n])
            print(f"generated {n:,} rows ({files[n].stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f} s")
        print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"cores: {os.cpu_count()}, chunksize {args.chunksize:,}, repeats {args.repeats}; "
              "each run in a fresh process; load = bundle load + tracing, excluded from 'score'; load average = uptime's\n")
        print(f"{'pipeline':<10} {'rows':>10} {'score s (median)':>17} {'min':>6} {'max':>6} {'cpu s':>6} {'load s':>7} "
              f"{'peak MB':>8} {'after load MB':>14} {'not scored':>10}")
        for n in (args.small_rows, args.rows):
            for kind in ("medviz", "baseline"):
                runs = [run(kind, bundle, files[n], tmp / f"out_{kind}.csv", args.chunksize) for _ in range(args.repeats)]
                sc = [r["score_s"] for r in runs]
                cpu = statistics.median(r["cpu_s"] for r in runs)
                print(f"{kind:<10} {n:>10,} {statistics.median(sc):>17.2f} {min(sc):>6.2f} {max(sc):>6.2f} {cpu:>6.1f} "
                      f"{statistics.median(r['load_s'] for r in runs):>7.2f} {max(r['peak_mb'] for r in runs):>8.0f} "
                      f"{statistics.median(r['rss_loaded_mb'] for r in runs):>14.0f} {runs[0]['errors']:>10,}")
        print(f"\nload average after the runs {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print("baseline = pandas.read_csv -> model -> to_csv with no validation, no flags, no streaming.")
        print("cpu s = user + system CPU seconds of the scoring step (wall time also counts waiting for a "
              "shared CPU; cpu s does not).")


if __name__ == "__main__":
    main()
