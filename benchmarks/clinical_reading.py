"""Clinical reading speed on its own (no model): one note through ``preprocess`` and a batch through
``preprocess_many``, medians of several runs.

Usage: python benchmarks/clinical_reading.py [--rows 20000] [--repeats 3]
Run it on two checkouts (e.g. ``PYTHONPATH=/path/to/old/checkout``) to compare engines in one
machine state; the cases are the text benchmark's (benchmarks/text_inference.py, seeded).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from text_inference import make_cases  # noqa: E402

NOTES = [
    "72M, 2 days productive cough and fever, denies chest pain. SpO2 88% on air, BP 80/50, HR 124, RR 28, T 39.2",
    "ROS: denies headache, dizziness, blurred vision, chest pain, palpitations, nausea, vomiting, high fever, chills "
    "or sweating. Burning pain when urinating and frequent urination for 3 days.",
    "Fever: yes, cough: yes, rash: no",
    "I have had a high fever, chills and a headache for three days and my joints ache badly",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from medviz.text.clinical import preprocess, preprocess_many

    import medviz.text.clinical as C

    print(f"engine: {C.__file__} ({getattr(C, 'PREPROCESSING_ID', '?')})")
    for note in NOTES:
        preprocess(note)  # warm (builds the pipeline once)
    times = []
    for _ in range(40):
        for note in NOTES:
            t = time.perf_counter()
            preprocess(note)
            times.append(time.perf_counter() - t)
    times.sort()
    print(f"one note (preprocess, {len(NOTES)} notes x 40): median {statistics.median(times) * 1e3:.2f} ms, "
          f"p95 {times[int(0.95 * len(times))] * 1e3:.2f} ms")
    cases = make_cases(args.rows)
    walls = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        preprocess_many(cases)
        walls.append(time.perf_counter() - t)
    med = statistics.median(walls)
    print(f"batch of {args.rows:,} (preprocess_many): {args.rows / med:,.0f} cases/s ({med:.2f} s, median of {args.repeats})")


if __name__ == "__main__":
    main()
