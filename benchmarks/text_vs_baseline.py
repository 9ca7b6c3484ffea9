"""Text scoring and the clinical reading beside a previous release, in one run (issue 12).

    python benchmarks/text_vs_baseline.py --baseline /path/to/old/checkout [--rows 20000] [--rounds 3]

Each round runs, for this checkout and then the baseline (each with its own code and its own
``models/symptom-diagnosis``), ``benchmarks/clinical_reading.py`` (one note, a batch of the seeded
benchmark cases through the reading alone) and ``benchmarks/text_inference.py --batch-only`` (CSV ->
scored CSV through ``score_csv``), alternating so both see the same machine state; then prints the
median of the rounds side by side with the load average (``os.getloadavg``) before and after.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
FIGURES = {
    "reading: one note (ms)": ("clinical_reading.py", r"one note .*?median ([\d.]+) ms"),
    "reading: batch (cases/s)": ("clinical_reading.py", r"preprocess_many\): ([\d,]+) cases/s"),
    "CSV -> scored CSV (cases/s)": ("text_inference.py", r"CSV -> scored CSV \(score_csv\)\s+([\d,]+) cases/s"),
    "raw forward pass (cases/s)": ("text_inference.py", r"raw forward pass \(in memory\)\s+([\d,]+) cases/s"),
}


def run(checkout: Path, script: str, rows: int) -> str:
    args = [sys.executable, str(checkout / "benchmarks" / script), "--rows", str(rows), "--repeats", "1"]
    if script == "text_inference.py":
        args.append("--batch-only")
    env = dict(os.environ, PYTHONPATH=str(checkout), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(args, cwd=checkout, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", required=True, type=Path, help="a checkout of the previous release")
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    checkouts = {"this": HERE, "baseline": args.baseline.resolve()}
    values: dict[tuple[str, str], list[float]] = {}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for name, checkout in checkouts.items():
            outputs = {s: run(checkout, s, args.rows) for s in ("clinical_reading.py", "text_inference.py")}
            for figure, (script, pattern) in FIGURES.items():
                m = re.search(pattern, outputs[script])
                if m:
                    values.setdefault((figure, name), []).append(float(m.group(1).replace(",", "")))
    load_after = os.getloadavg()
    print(f"{args.rows:,} seeded benchmark cases, median of {args.rounds} alternating rounds")
    print(f"load average before {load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f}, "
          f"after {load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f} (1/5/15 min)")
    print(f"{'figure':32} {'this checkout':>14} {'baseline':>14} {'ratio':>7}")
    for figure in FIGURES:
        this, base = values.get((figure, "this")), values.get((figure, "baseline"))
        if not this or not base:
            continue
        a, b = statistics.median(this), statistics.median(base)
        print(f"{figure:32} {a:14,.2f} {b:14,.2f} {a / b:7.2f}")


if __name__ == "__main__":
    main()
