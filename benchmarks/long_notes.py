"""Whole notes: top-1 of the robustness set's vignettes when the complaint sits next to unrelated text.

Each in-scope vignette of tests/data/robustness.jsonl is put after (and, second run, before) the same
81-word social-history paragraph, so the note is longer than the model's 64-word window. Compared:
the vignette alone; the note cut at the window (what the model read before windows); the pipeline
(overlapping windows, per-class max, renormalised: medviz.text.predict); the same windows pooled by
the mean log-probability (the alternative). Also the mean top probability of the out-of-scope
vignettes under the same treatment (pooling must not make unfamiliar notes look confident).

Usage: python benchmarks/long_notes.py [--bundle models/symptom-diagnosis]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

HISTORY = (
    "Seen in clinic today with her daughter. Lives alone in a ground floor flat, walks with a stick, "
    "independent with washing and dressing, retired school teacher, never smoked, drinks a glass of wine "
    "at weekends, two children nearby who visit every week, takes vitamin D and nothing else, no known "
    "allergies, came in by bus and waited an hour in the waiting room, pleasant and chatty, "
    "keen to get home before the evening, daughter also present and helpful throughout the visit."
)
_WORD = re.compile(r"[A-Za-z0-9]+")


def mean_logprob(predictor, texts: list[str]) -> np.ndarray:
    """The alternative pooling: the same windows as the predictor, softmax of the mean log-probability."""
    L, step = predictor.seq_len, predictor.stride
    wins, owner = [], []
    for i, t in enumerate(texts):
        sp = [m.span() for m in _WORD.finditer(t)]
        starts = list(range(0, max(len(sp) - L, 0) + 1, step))
        if starts[-1] + L < len(sp):
            starts.append(len(sp) - L)
        for s0 in starts:
            wins.append(t[sp[s0][0] : sp[min(s0 + L, len(sp)) - 1][1]])
            owner.append(i)
    owner = np.asarray(owner)
    p = predictor.predict(wins, attention=False).probabilities
    out = np.stack([np.exp(np.log(np.clip(p[owner == i], 1e-12, 1)).mean(0)) for i in range(len(texts))])
    return out / out.sum(1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default=str(ROOT / "models" / "symptom-diagnosis"))
    args = ap.parse_args()
    from medviz.bundle import load_bundle
    from medviz.text.analyse import model_texts
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(args.bundle)
    pred = TextPredictor.from_bundle(bundle)
    rows = [json.loads(line) for line in open(ROOT / "tests" / "data" / "robustness.jsonl", encoding="utf-8")]
    ins = [r for r in rows if r.get("in_scope")]
    oos = [r for r in rows if not r.get("in_scope")]
    y = np.array([bundle.labels.index(r["label"]) for r in ins])
    alone = pred.predict(model_texts(pred, [r["text"] for r in ins]), attention=False).probabilities
    print(f"{len(ins)} in-scope / {len(oos)} out-of-scope vignettes; history paragraph {len(_WORD.findall(HISTORY))} words;"
          f" window {pred.seq_len} words, stride {pred.stride}")
    print(f"  vignette alone: top-1 {(alone.argmax(1) == y).mean():.1%}")
    for where, make in (("history first", lambda t: f"{HISTORY} {t}"), ("history after", lambda t: f"{t} {HISTORY}")):
        mi = model_texts(pred, [make(r["text"]) for r in ins])
        mo = model_texts(pred, [make(r["text"]) for r in oos])
        cut = [" ".join(_WORD.findall(t)[: pred.seq_len]) for t in mi]
        res = {
            f"cut at {pred.seq_len} words (before)": (pred.predict(cut).probabilities,
                                                      pred.predict([" ".join(_WORD.findall(t)[: pred.seq_len]) for t in mo]).probabilities),
            "windows, per-class max (pipeline)": (pred.predict(mi).probabilities, pred.predict(mo).probabilities),
            "windows, mean log-probability": (mean_logprob(pred, mi), mean_logprob(pred, mo)),
        }
        print(where)
        for name, (pi, po) in res.items():
            print(f"  {name:36s} in-scope top-1 {(pi.argmax(1) == y).mean():6.1%}   mean top probability: "
                  f"in-scope {pi.max(1).mean():.2f}, out-of-scope {po.max(1).mean():.2f}")


if __name__ == "__main__":
    main()
