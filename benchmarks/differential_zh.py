"""The 801-condition differential in Chinese beside English on the same vignettes (issue 14).

    python benchmarks/differential_zh.py [--model models/differential-801] [--repeats 5]

Reads benchmarks/data/vignettes_zh_en.csv (paired development vignettes, clinicians' register, written
by the medviz authors for issue 14; never used for training or for choosing a weight) and prints
top-1/3/5/10 of the product (network x knowledge-base expert, what every page shows) and of each
part, for the English and the Chinese text of each case; then the median time of one Chinese case
through the whole pipeline (``analyse_case``: Chinese reading, model, expert, sets) beside the same
for the English case (median of --repeats passes over 20 cases), with the load average.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from differential import header, parts, probabilities, topk_row  # noqa: E402

VIGNETTES = ROOT / "benchmarks" / "data" / "vignettes_zh_en.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "differential-801"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    from medviz.bundle import load_bundle
    from medviz.text.analyse import analyse_case
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(args.model)
    predictor = TextPredictor.from_bundle(bundle)
    df = pd.read_csv(VIGNETTES, dtype=str)
    truth = [{lab} for lab in df["label"]]
    labels = list(bundle.labels)
    print(f"{bundle.name} {bundle.manifest.get('version')}: {len(df)} paired vignettes ({VIGNETTES.name}), "
          f"languages {bundle.manifest.get('inputs', {}).get('languages', ['en'])}")
    print(header())
    for lang, col in (("English", "text_en"), ("Chinese", "text_zh")):
        texts = df[col].tolist()
        print(topk_row(f"{lang} — product (network x KB expert)", probabilities(predictor, texts), labels, truth))
        for name, p in parts(predictor, texts).items():
            print(topk_row(f"{lang} — {name}", p, labels, truth))

    print()
    zh, en = df["text_zh"].tolist()[:20], df["text_en"].tolist()[:20]
    for t in zh[:3] + en[:3]:
        analyse_case(predictor, t)  # warm: spaCy pipelines, traced graph
    times: dict[str, list[float]] = {"Chinese": [], "English": []}
    for _ in range(args.repeats):
        for name, texts in (("Chinese", zh), ("English", en)):
            for t in texts:
                t0 = time.perf_counter()
                analyse_case(predictor, t)
                times[name].append(time.perf_counter() - t0)
    load = os.getloadavg()
    for name, ts in times.items():
        print(f"one {name} case, whole analyse_case: median {np.median(ts) * 1e3:.1f} ms "
              f"(p95 {np.percentile(ts, 95) * 1e3:.1f} ms, {len(ts)} calls)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 shared cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
