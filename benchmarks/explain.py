"""Explanation speed and fidelity, each beside the naive shap call measured in the same run.

Text: per-case SHAP (cases of ~40 words) with medviz's TextExplainer (Partition + Text masker with
the model's tokenizer over the trimmed compiled function) vs the naive
``shap.Explainer(lambda x: model.predict(x)[0], shap.maskers.Text())`` (output 0 = the calibrated
probabilities; the Keras model returns [probabilities, attention, logits]). Prints the median time
per case, the ratio, and the Spearman rank correlation between the two explanations of the top
diagnosis (same words: the cases are plain English, where shap's ``\\W+`` tokenizer and the model's
agree).

Tabular: exact SHAP for 10,000 rows with TabularExplainer vs ``shap.PermutationExplainer(model.predict,
background)`` on a sample of rows (same background), extrapolated to 10,000, with the ratio and the
largest difference between the two sets of values.

Targets (issue 5): text <= 300 ms median per case, >= 10x faster than naive, rank correlation >= 0.9;
tabular: 10,000 rows <= 5 s.

Usage: python benchmarks/explain.py [--text-bundle models/symptom-diagnosis] [--tabular-bundle models/pima-diabetes]
                                    [--naive-cases 4] [--naive-rows 10]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

CASES = [
    "For the past four days I have had a high fever with chills and sweating at night, a pounding headache behind my eyes, "
    "pain in my joints and muscles, and now a red rash is spreading over my arms and chest",
    "I keep sneezing all morning, my nose is runny and blocked, my eyes are red and itchy and watery, and it gets much worse "
    "whenever I am near the cat or dust in the house, but I have no fever at all",
    "There is a burning pain in the upper part of my stomach that comes a few hours after meals and at night, I feel "
    "bloated and sick, I burp a lot and once I noticed dark stools that looked like tar",
    "My skin has thick red patches covered with silvery scales on my elbows, knees and scalp, they itch and sometimes crack "
    "and bleed, and my nails have small pits and look yellow and thick",
    "It burns when I pee and I need to go all the time even though only a little comes out, my urine is cloudy and smells "
    "strong, and I have a dull pain low in my belly and a slight fever",
    "I have a dry cough that will not go away, I feel short of breath when I climb stairs, my chest feels tight and I "
    "wheeze at night, especially in cold air or after I exercise hard",
    "My neck has been stiff and painful for weeks, the pain goes down into my shoulders and arms, my hands feel numb "
    "and tingly, and I get dizzy when I turn my head quickly to the side",
    "The veins in my legs are swollen, twisted and blue, my legs feel heavy and ache after standing all day at work, "
    "my ankles swell in the evening and the skin near them is itchy and dark",
]


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b)[0])


def text_part(path: str, naive_cases: int, repeats: int) -> None:
    import shap
    import tensorflow as tf

    from medviz.bundle import load_bundle
    from medviz.explain import TextExplainer, model_output
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(path)
    predictor = TextPredictor.from_bundle(bundle)
    t = time.perf_counter()
    explainer = TextExplainer.from_predictor(predictor)
    build = time.perf_counter() - t
    words = [len(re.findall(r"[A-Za-z0-9]+", c)) for c in CASES]
    print(f"text bundle {bundle.name} v{bundle.version}: {len(CASES)} cases, {min(words)}-{max(words)} words "
          f"(median {statistics.median(words):.0f}); explainer built in {build:.2f} s")
    explainer.explain(CASES[0])  # warm
    ours_t, ours = [], []
    for case in CASES:
        best = []
        for _ in range(repeats):
            t = time.perf_counter()
            exp = explainer.explain(case)
            best.append(time.perf_counter() - t)
        ours_t.append(statistics.median(best))
        ours.append(exp)
    err = max(float(np.abs(model_output(e) - predictor.predict([c]).probabilities[0]).max()) for e, c in zip(ours, CASES))
    print(f"  medviz TextExplainer      median {1000 * statistics.median(ours_t):8.0f} ms/case  "
          f"(p90 {1000 * np.percentile(ours_t, 90):.0f} ms; max additivity error {err:.1e})")

    model = bundle.model
    naive = shap.Explainer(lambda x: model.predict(tf.constant([str(s) for s in x]), verbose=0)[0],
                           shap.maskers.Text(), output_names=bundle.labels)
    naive_t, rhos = [], []
    for case, exp in zip(CASES[:naive_cases], ours):
        t = time.perf_counter()
        nv = naive([case], silent=True)
        naive_t.append(time.perf_counter() - t)
        j = int(np.argmax(model_output(exp)))
        a, b = exp.values[:, j], nv.values[0][:, j]
        if len(a) != len(b):
            print(f"  (case skipped for rank correlation: {len(a)} vs {len(b)} tokens)")
            continue
        rhos.append(spearman(a, b))
    med_naive = statistics.median(naive_t)
    print(f"  naive shap.Explainer      median {1000 * med_naive:8.0f} ms/case  ({len(naive_t)} cases)")
    print(f"  speed-up                  {med_naive / statistics.median(ours_t[:naive_cases]):8.1f}x  (same cases)")
    print(f"  Spearman rho vs naive     median {statistics.median(rhos):.3f}, min {min(rhos):.3f} "
          f"(top diagnosis, all words; {len(rhos)} cases)")


def synthetic_rows(reference: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n distinct rows: each feature drawn independently from the reference column, 1% blanks."""
    rng = np.random.default_rng(seed)
    cols = [rng.choice(reference[:, j][~np.isnan(reference[:, j])], size=n) for j in range(reference.shape[1])]
    x = np.column_stack(cols).astype(float)
    x[rng.random(x.shape) < 0.01] = np.nan
    return x


def tabular_part(path: str, naive_rows: int, repeats: int) -> None:
    import shap

    from medviz.bundle import load_bundle
    from medviz.explain import TabularExplainer, feature_array, load_background, model_output

    if not Path(path).is_dir():
        print(f"tabular bundle {path} not found: tabular part skipped")
        return
    bundle = load_bundle(path)
    t = time.perf_counter()
    ex = TabularExplainer.from_bundle(bundle)
    build = time.perf_counter() - t
    ref = feature_array(load_background(bundle), ex.feature_names, "reference")
    rows = synthetic_rows(ref, 10_000)
    print(f"tabular bundle {bundle.name} v{bundle.version}: {len(ex.feature_names)} features, background "
          f"{len(ex.background)} training rows, path {'logit-additive exact' if ex.additive else 'generic exact'}; "
          f"explainer built in {build:.2f} s")
    ex.explain(rows[:10])  # warm
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        exp = ex.explain(rows)
        times.append(time.perf_counter() - t)
    err = float(np.abs(model_output(exp) - ex.predict(rows)).max())
    ours = statistics.median(times)
    print(f"  medviz TabularExplainer   {ours:8.2f} s for 10,000 rows  (median of {repeats}; max additivity error {err:.1e})")

    model = bundle.model
    naive = shap.PermutationExplainer(lambda z: model.predict(z.astype(np.float32), verbose=0)[0][:, 0], ex.background)
    sample = rows[:naive_rows]
    t = time.perf_counter()
    nv = naive(sample, silent=True)
    per_row = (time.perf_counter() - t) / len(sample)
    diff = float(np.abs(nv.values - exp.values[:naive_rows]).max())
    print(f"  naive PermutationExplainer {per_row:7.2f} s/row on {len(sample)} rows -> {per_row * 10_000:,.0f} s "
          f"for 10,000 rows (extrapolated)")
    print(f"  speed-up                  {per_row * 10_000 / ours:8.0f}x; max |exact - permutation| on the sample {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text-bundle", default="models/symptom-diagnosis")
    ap.add_argument("--tabular-bundle", default="models/pima-diabetes")
    ap.add_argument("--naive-cases", type=int, default=4)
    ap.add_argument("--naive-rows", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-text", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"CPU: {os.cpu_count()} cores, load average {load[0]:.1f} (shared machine: absolute times scale with load)")
    if not args.skip_text:
        text_part(args.text_bundle, args.naive_cases, args.repeats)
    tabular_part(args.tabular_bundle, args.naive_rows, args.repeats)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
