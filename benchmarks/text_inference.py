"""Text model speed: one case (probabilities + attention) and batch scoring of a 100,000-row CSV.

Prints, in one run and on the same machine state:
  * single case, warm: median and p95 of the compiled predictor vs the naive ``model.predict([text])``
    and an eager ``model(x)`` call;
  * batch: cases/s of ``python -m medviz score``'s code path (CSV in -> scored CSV out) vs the raw
    forward pass on the same texts already in memory.

Usage: python benchmarks/text_inference.py [--bundle models/symptom-diagnosis] [--rows 100000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CASES = [
    "I have had a high fever, chills and a headache for three days and my joints ache badly",
    "There is an itchy red rash with small blisters spreading over my chest and back",
    "My stomach burns after meals and I keep getting sour liquid in my throat at night",
    "I keep sneezing, my eyes are watery and my nose runs whenever I am near the cat",
    "Burning when I pee, I need to go all the time and my lower belly hurts",
]


def timeit(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:7.2f} ms   p95 {np.percentile(xs, 95) * 1e3:7.2f} ms"


# Clauses the batch cases are built from: mostly patient voice (like the training data), some in
# clinician register with abbreviations, vital signs and negations (these take the full rule path).
PATIENT_CLAUSES = [
    "I have had a high fever and chills for three days", "my joints ache badly", "there is a pounding headache",
    "an itchy red rash with small blisters is spreading over my chest", "my stomach burns after meals",
    "I keep getting sour liquid in my throat at night", "I keep sneezing and my eyes are watery",
    "my nose runs whenever I am near the cat", "it burns when I pee and I need to go all the time",
    "my lower belly hurts", "I feel tired all the time", "I have a dry cough that keeps me up",
    "my skin has turned yellow", "the veins in my legs are swollen and painful", "I feel dizzy when I stand up",
    "I have been very thirsty and lost weight", "there is a sharp pain in my lower back", "my neck feels stiff",
]
CLINICIAN_CLAUSES = [
    "58M, 3/7 productive cough, T 38.9", "crackles R base", "denies chest pain", "no rash, no vomiting",
    "c/o dysuria and frequency", "SOB on exertion", "afebrile, HR 88", "possible UTI",
]


def make_cases(n: int, seed: int = 0) -> list[str]:
    """``n`` cases of 2 to 4 distinct clauses, a clinician clause about one time in ten."""
    rng = np.random.default_rng(seed)
    pool = PATIENT_CLAUSES + CLINICIAN_CLAUSES
    weight = np.r_[np.full(len(PATIENT_CLAUSES), 4.0), np.ones(len(CLINICIAN_CLAUSES))]
    weight /= weight.sum()
    picks = [rng.choice(len(pool), size=rng.integers(2, 5), replace=False, p=weight) for _ in range(n)]
    return [", ".join(pool[j] for j in p) for p in picks]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default="models/symptom-diagnosis")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--single-runs", type=int, default=200)
    ap.add_argument("--chunksize", type=int, default=None, help="rows per chunk (default: the scorer's, as the CLI)")
    ap.add_argument("--batch-only", action="store_true", help="skip the single-case timings")
    args = ap.parse_args()

    import tensorflow as tf

    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer, score_csv
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(args.bundle)
    pred = TextPredictor.from_bundle(bundle)
    model = bundle.model
    print(f"bundle {bundle.name} v{bundle.version}; TF threads intra={tf.config.threading.get_intra_op_parallelism_threads()}"
          f" cpus={os.cpu_count()}")

    if not args.batch_only:
        # --- single case ---------------------------------------------------------------------------
        case = CASES[0]
        for _ in range(20):
            pred.predict([case])
            model.predict(tf.constant([case]), verbose=0)
            model(tf.constant([case]))
        fast = timeit(lambda: pred.predict([case]), args.single_runs)
        naive = timeit(lambda: model.predict(tf.constant([case]), verbose=0), max(20, args.single_runs // 5))
        eager = timeit(lambda: model(tf.constant([case])), max(20, args.single_runs // 5))
        print("\nOne case -> probabilities + attention (warm)")
        print(f"  compiled TextPredictor     {ms(fast)}")
        print(f"  naive model.predict([x])   {ms(naive)}   ({statistics.median(naive) / statistics.median(fast):.1f}x slower)")
        print(f"  eager model(x)             {ms(eager)}   ({statistics.median(eager) / statistics.median(fast):.1f}x slower)")
        print(f"  target <= 20 ms median: {'MET' if statistics.median(fast) <= 0.020 else 'NOT MET'}")
        # the whole single-case pipeline the Case page runs (checks, clinical reading, model, safety)
        from medviz.text.analyse import analyse_case

        note = "58M, 3/7 productive cough, T 38.9, crackles R base, denies chest pain, no rash"
        for _ in range(10):
            analyse_case(pred, note)
        full_case = timeit(lambda: analyse_case(pred, note), args.single_runs)
        print(f"  analyse_case (Case page)   {ms(full_case)}   (clinician note: rules + model + safety checks)")
        long_note = " ".join([CASES[0]] * 8)  # ~130 words: 3 overlapping windows
        long_case = timeit(lambda: analyse_case(pred, long_note), max(20, args.single_runs // 4))
        print(f"  analyse_case, 130 words    {ms(long_case)}   (read whole: overlapping windows)")

    # --- batch ---------------------------------------------------------------------------------
    texts = make_cases(args.rows)
    from medviz.text.clinical import needs_rules

    share_rules = float(needs_rules(texts).mean())
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "cases.csv"
        out = Path(tmp) / "scored.csv"
        pd.DataFrame({"id": np.arange(args.rows), "text": texts}).to_csv(src, index=False)
        pred.predict(texts[:4096])  # warm the batch shape
        scorer = make_scorer(bundle, text_column="text", predictor=pred)  # built once, as the CLI does
        # Decomposition only (not a product path): the same pipeline with the clinical rules skipped,
        # the model reading the texts as typed. Shows what the rules cost beside reading and writing.
        from dataclasses import replace

        from medviz.text.analyse import prepare

        no_rules = make_scorer(bundle, text_column="text", predictor=pred)
        as_typed = replace(no_rules.safety, preprocessing="none")  # the same checks, no clinical reading
        no_rules.prepare = lambda chunk: prepare(as_typed, chunk["text"].tolist())
        raw, full, bare = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            pred.predict(texts)
            raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            score_csv(bundle, src, out, text_column="text", chunksize=args.chunksize, scorer=scorer)
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            score_csv(bundle, src, Path(tmp) / "bare.csv", text_column="text", chunksize=args.chunksize, scorer=no_rules)
            bare.append(time.perf_counter() - t)
        scored_rows = sum(1 for _ in open(out)) - 1
    r, f, b = statistics.median(raw), statistics.median(full), statistics.median(bare)
    print(f"\nBatch of {args.rows:,} cases ({len(set(texts)):,} distinct texts; nothing is cached) (median of {args.repeats}); "
          f"{share_rules:.0%} contain a clinician abbreviation, vital sign or negation cue (full rule path)")
    print(f"  raw forward pass (in memory)     {args.rows / r:9,.0f} cases/s  ({r:.2f} s)")
    print(f"  CSV -> scored CSV (score_csv)    {args.rows / f:9,.0f} cases/s  ({f:.2f} s, {scored_rows:,} rows written)")
    print(f"  same, clinical rules skipped     {args.rows / b:9,.0f} cases/s  ({b:.2f} s; decomposition only, {b / r:.2f}x raw)")
    print(f"  overhead vs raw forward: {f / r:.2f}x   targets: >= 10,000 cases/s {'MET' if args.rows / f >= 10_000 else 'NOT MET'},"
          f" within 1.5x {'MET' if f / r <= 1.5 else 'NOT MET'}")


if __name__ == "__main__":
    main()
