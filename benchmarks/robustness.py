"""Clinician-register robustness of a text bundle (issue 3): prints the figures for the model card.

    python benchmarks/robustness.py [models/symptom-diagnosis] [tests/data/robustness.jsonl]

On the robustness set (clinician-written vignettes kept out of training: in-scope cases over the 22
diagnoses and cases about other conditions) it prints top-1 / top-3 on the in-scope cases, the
out-of-scope AUROC over all cases, the share of in-scope cases wrongly flagged and of out-of-scope
cases caught, and the conformal coverage / mean set size on in-scope cases. Beside it, the same model
fed the raw text (no normalisation, no negation handling) as the naive baseline, and every candidate
out-of-scope score. Then the conformal coverage and top-1 on the original test file, recomputed from
the bundle's held-out test predictions.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main(argv: list[str]) -> int:
    from medviz import metrics as M
    from medviz.bundle import load_bundle
    from medviz.text import conformal, ood
    from medviz.text.analyse import SafetyConfig, analyse_batch
    from medviz.text.predict import TextPredictor, unknown_shares
    from medviz.text.preprocess import apply_preprocessing

    bundle_dir = Path(argv[1]) if len(argv) > 1 else ROOT / "models" / "symptom-diagnosis"
    data = Path(argv[2]) if len(argv) > 2 else ROOT / "tests" / "data" / "robustness.jsonl"
    bundle = load_bundle(bundle_dir)
    predictor = TextPredictor.from_bundle(bundle)
    cfg = SafetyConfig.from_manifest(bundle.manifest)
    df = pd.read_json(data, lines=True, dtype=False)
    ins = df["in_scope"].astype(bool).to_numpy()
    labels = bundle.labels
    y = df.loc[ins, "label"].map({lab: i for i, lab in enumerate(labels)}).to_numpy().astype(int)

    print(f"bundle {bundle.name} {bundle.version}; {data.name}: {ins.sum()} in-scope, {(~ins).sum()} out-of-scope cases")
    print(f"preprocessing: {cfg.preprocessing}; out-of-scope method: {cfg.detector.method if cfg.detector else None}")
    print()
    print(f"{'':34}{'top-1':>7}{'top-3':>7}{'OOS AUROC':>11}{'in-scope flagged':>18}{'OOS flagged':>13}"
          f"{'coverage':>10}{'set size':>10}")

    def row(name, probs, score, flag):
        p = probs[ins]
        cov = conformal.evaluate(p, y, cfg.conformal) if cfg.conformal else {"coverage": np.nan, "mean_set_size": np.nan}
        print(
            f"{name:34}{M.top_k_accuracy(y, p, 1):7.1%}{M.top_k_accuracy(y, p, 3):7.1%}"
            f"{ood.auroc(score[ins], score[~ins]):11.3f}{flag[ins].mean():18.1%}{flag[~ins].mean():13.1%}"
            f"{cov['coverage']:10.1%}{cov['mean_set_size']:10.2f}"
        )

    texts = df["text"].astype(str).tolist()
    probs, frame = analyse_batch(predictor, texts)
    row("deployed (preprocessing + flag)", probs, frame["out_of_scope_score"].to_numpy(), frame["out_of_scope"].to_numpy())
    raw = predictor.predict(texts)
    raw_score = cfg.detector.score(raw.logits, unknown_shares(bundle.model, texts))
    row("baseline: raw text, same model", raw.probabilities, raw_score, cfg.detector.flag(raw_score))

    mt = apply_preprocessing(cfg.preprocessing, texts)
    pred = predictor.predict(mt)
    unk = unknown_shares(bundle.model, mt)
    print()
    print("out-of-scope AUROC by candidate score (deployed preprocessing):")
    for m in ood.METHODS:
        s = ood.scores(m, pred.logits, unk, cfg.detector.unknown_weight)
        print(f"  {m:14} {ood.auroc(s[ins], s[~ins]):.3f}")

    tp = bundle.test_predictions
    if tp is not None and cfg.conformal is not None:
        p = tp[[f"prob_{lab}" for lab in labels]].to_numpy(dtype=float)
        yt = tp["y_true"].map({lab: i for i, lab in enumerate(labels)}).to_numpy().astype(int)
        dup = tp["near_duplicate"].astype(str).str.lower().eq("true").to_numpy()
        print()
        for name, sel in (("original test file", np.ones(len(yt), bool)), ("test, near-duplicates removed", ~dup)):
            ev = conformal.evaluate(p[sel], yt[sel], cfg.conformal)
            print(
                f"{name:31} n={sel.sum():4d}  top-1 {M.top_k_accuracy(yt[sel], p[sel], 1):.1%}  "
                f"ECE {M.top_label_ece(yt[sel], p[sel]):.3f}  conformal coverage {ev['coverage']:.1%} "
                f"(target {cfg.conformal.coverage:.0%})  mean set size {ev['mean_set_size']:.2f}"
            )
    print()
    print("targets: top-3 >= 80%, top-1 >= 60%, OOS AUROC >= 0.90 with <= 10% of in-scope flagged, "
          "coverage 0.90 +/- 0.03 with mean set size <= 2, test top-1 > 94.8%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
