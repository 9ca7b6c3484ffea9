"""Evaluation speed: external validation of a 10,000-row labelled CSV, and the Evaluation page.

Prints, in one run and on the same machine state:
  * external validation (text bundle): labelled CSV bytes -> read -> validate labels -> score -> every
    figure incl. 1,000 stratified bootstrap resamples -> cohort shift; median of N runs (target <= 10 s);
  * the bootstrap alone (binary, 10,000 patients: AUC + AP + Brier) vs a naive loop of scikit-learn
    calls on 1,000 resampled index arrays (the obvious way to write it);
  * the multiclass macro-AUC bootstrap (10,000 x 22 classes) vs the naive loop, timed on a subset and
    scaled (stated as such);
  * the Evaluation page, run with Streamlit's AppTest: first visit (computes and caches the test-set
    evaluation) vs later visits (cache hit; target <= 2 s).

The labelled texts are synthetic (phrases recombined, labels drawn at random): the figures they give
are meaningless, only the timings matter. No shared training data is read.

Usage: python benchmarks/evaluation.py [--bundle models/symptom-diagnosis] [--rows 10000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

PHRASES = [
    "high fever and chills", "a dry cough for three days", "itchy red rash on my arms", "burning when I pee",
    "my joints ache and feel stiff", "sour taste and burning in my chest after meals", "yellow skin and dark urine",
    "a pounding headache with nausea", "my nose runs and I keep sneezing", "blisters spreading over my back",
    "short of breath and wheezing at night", "swollen veins in my legs", "very thirsty and tired all the time",
    "neck pain that goes down my arm", "red scaly patches on my elbows", "stomach pain that wakes me at night",
]


def labelled_csv(labels: list[str], rows: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    texts = [" and ".join(rng.choice(PHRASES, size=rng.integers(2, 5), replace=False)) for _ in range(rows)]
    df = pd.DataFrame({"id": np.arange(rows), "input_text": texts, "diagnosis": rng.choice(labels, size=rows),
                       "site": rng.choice(["A", "B", "C"], size=rows)})
    return df.to_csv(index=False).encode()


def naive_binary_bootstrap(y, p, resamples, seed):
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        out.append((roc_auc_score(y[i], p[i]), average_precision_score(y[i], p[i]), brier_score_loss(y[i], p[i])))
    return np.percentile(np.array(out), [2.5, 97.5], axis=0)


def naive_macro_bootstrap(y, probs, resamples, seed):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        present = np.unique(y[i])
        out.append(np.mean([roc_auc_score(y[i] == c, probs[i, c]) for c in present]))
    return np.percentile(out, [2.5, 97.5])


def page_timings(bundle_path: Path, visits: int) -> tuple[float, list[float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["MEDVIZ_MODELS_DIR"] = str(bundle_path.parent)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["app_bundle_path"] = str(bundle_path)
    at.run()  # Case page: loads the model (cache_resource), as a user arriving at the app would
    t = time.perf_counter()
    at.switch_page("pages/evaluation.py").run()
    first = time.perf_counter() - t
    if at.exception:
        raise SystemExit(f"page raised: {at.exception}")
    later = []
    for _ in range(visits):
        at.switch_page("pages/case.py").run()
        t = time.perf_counter()
        at.switch_page("pages/evaluation.py").run()
        later.append(time.perf_counter() - t)
    return first, later


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default=str(ROOT / "models/symptom-diagnosis"))
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--visits", type=int, default=5)
    args = ap.parse_args()

    from medviz import metrics as M
    from medviz.bundle import load_bundle
    from medviz.evaluation import evaluate_external, read_labelled_upload, subgroup_table
    from medviz.scoring import TextScorer
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(args.bundle)
    predictor = TextPredictor.from_bundle(bundle)  # the page gets it from cache_resource
    data = labelled_csv(bundle.labels, args.rows)
    print(f"bundle {bundle.name} v{bundle.version}; {args.rows:,} labelled rows ({len(data) / 1e6:.1f} MB CSV); "
          f"cpus={os.cpu_count()}")

    # warm-up (tf.function tracing for the batch shape, statsmodels/patsy imports)
    evaluate_external(bundle, read_labelled_upload(data[:20000]), "diagnosis", text_column="input_text",
                      scorer=TextScorer(bundle, "input_text", predictor=predictor), resamples=50)
    runs, sub_runs = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        table = read_labelled_upload(data)
        res = evaluate_external(bundle, table, "diagnosis", text_column="input_text",
                                scorer=TextScorer(bundle, "input_text", predictor=predictor))
        runs.append(time.perf_counter() - t)
        t = time.perf_counter()
        subgroup_table(res.evaluation, res.scored["site"])
        sub_runs.append(time.perf_counter() - t)
    ev = res.evaluation
    med = statistics.median(runs)
    print(f"\nExternal validation, {args.rows:,} rows, text bundle (median of {args.repeats})")
    print(f"  CSV -> validated -> scored -> all figures + {ev.macro_auc.resamples:,}-resample bootstrap + shift: {med:6.2f} s")
    print(f"  + subgroup table by a 3-level column (bootstrap per group):                   {statistics.median(sub_runs):6.2f} s")
    print(f"  target <= 10 s: {'MET' if med <= 10 else 'NOT MET'}")

    # --- bootstrap: vectorised stratified vs naive loop ---------------------------------------------
    rng = np.random.default_rng(1)
    n = args.rows
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    t = time.perf_counter()
    M.bootstrap_binary(y, p, resamples=1000, seed=1)
    fast = time.perf_counter() - t
    t = time.perf_counter()
    naive_binary_bootstrap(y, p, 1000, 1)
    naive = time.perf_counter() - t
    print(f"\nBinary bootstrap, {n:,} patients, 1,000 resamples, AUC + AP + Brier")
    print(f"  vectorised stratified (medviz.metrics)  {fast:6.2f} s")
    print(f"  naive loop of scikit-learn calls         {naive:6.2f} s   ({naive / fast:.1f}x slower)")

    yc, probs = ev.y, ev.probs
    t = time.perf_counter()
    M.bootstrap_macro_auc(yc, probs, resamples=1000, seed=1)
    fast = time.perf_counter() - t
    k = 100
    t = time.perf_counter()
    naive_macro_bootstrap(yc, probs, k, 1)
    naive = (time.perf_counter() - t) * 1000 / k
    print(f"\nMulticlass macro-AUC bootstrap, {len(yc):,} cases x {probs.shape[1]} classes, 1,000 resamples")
    print(f"  vectorised stratified (medviz.metrics)  {fast:6.2f} s")
    print(f"  naive loop (timed on {k} resamples, x{1000 // k})  {naive:6.2f} s   ({naive / fast:.1f}x slower)")

    # --- the page --------------------------------------------------------------------------------------
    first, later = page_timings(Path(args.bundle).resolve(), args.visits)
    print(f"\nEvaluation page ({bundle.name}, AppTest script run; browser rendering not included)")
    print(f"  first visit (computes + caches the test-set evaluation)  {first:6.2f} s")
    print(f"  later visits (cache hit), median of {args.visits}              {statistics.median(later):6.2f} s"
          f"   (max {max(later):.2f} s)")
    print(f"  target <= 2 s after the first visit: {'MET' if statistics.median(later) <= 2 else 'NOT MET'}")


if __name__ == "__main__":
    main()
