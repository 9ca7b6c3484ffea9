"""Trust checks for a text explanation: attention as an Explanation, rank agreement with SHAP, deletion check."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from medviz.errors import InputError
from medviz.explain.common import class_index
from medviz.explain.text import TextExplainer


def rank_agreement(shap_values: np.ndarray, attention: np.ndarray) -> dict[str, float]:
    """Spearman and Kendall rank correlation between |SHAP| and attention over the same words."""
    from scipy.stats import kendalltau, spearmanr

    a = np.abs(np.asarray(shap_values, dtype=float))
    b = np.asarray(attention, dtype=float)
    if a.shape != b.shape:
        raise InputError(f"SHAP values ({a.shape}) and attention ({b.shape}) cover different words")
    n = int(a.size)
    if n < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"spearman": float("nan"), "kendall": float("nan"), "n_words": n}
    return {"spearman": float(spearmanr(a, b)[0]), "kendall": float(kendalltau(a, b)[0]), "n_words": n}


def _drop_words(segments: Sequence[str], drop: set[int]) -> str:
    return " ".join(s for i, s in enumerate(segments) if i not in drop)


def deletion_check(
    explainer: TextExplainer,
    shap_exp,
    attention_exp,
    label: str | int,
    *,
    max_k: int = 10,
    n_random: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """Faithfulness check: how far P(label) falls when k words are deleted, for k = 1..max_k.

    Words are chosen three ways: the k largest SHAP values for ``label`` (the words pushing hardest
    towards it), the k largest attention weights, and k words at random (mean of ``n_random``
    seeded draws). A faithful explanation makes its own top-k drop the probability more than random.
    Columns: k, method ("SHAP", "attention", "random"), probability, drop.
    """
    j = class_index(explainer.labels, label)
    sv = np.asarray(shap_exp.values, dtype=float)
    sv = sv[:, j] if sv.ndim == 2 else sv
    att = np.asarray(attention_exp.values, dtype=float)
    segments = list(shap_exp.data)
    n = len(segments)
    ks = list(range(1, max(1, min(max_k, n)) + 1))
    rng = np.random.default_rng(seed)
    by_shap = np.argsort(-sv, kind="stable")
    by_att = np.argsort(-att, kind="stable")
    texts = ["".join(segments)]
    plan: list[tuple[int, str]] = []
    for k in ks:
        texts.append(_drop_words(segments, set(by_shap[:k].tolist())))
        plan.append((k, "SHAP"))
        texts.append(_drop_words(segments, set(by_att[:k].tolist())))
        plan.append((k, "attention"))
        for _ in range(n_random):
            texts.append(_drop_words(segments, set(rng.choice(n, size=k, replace=False).tolist())))
            plan.append((k, "random"))
    probs = explainer.probabilities(texts)[:, j]
    full = float(probs[0])
    df = pd.DataFrame(plan, columns=["k", "method"])
    df["probability"] = probs[1:]
    out = df.groupby(["k", "method"], sort=False, as_index=False)["probability"].mean()
    out["drop"] = full - out["probability"]
    out.attrs["full_probability"] = full
    out.attrs["label"] = explainer.labels[j]
    out.attrs["n_random"] = n_random
    out.attrs["seed"] = seed
    return out
