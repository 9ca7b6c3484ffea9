"""Global word importance per diagnosis (mean SHAP over a labelled set), stored in a text bundle."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import BundleError, InputError
from medviz.explain.common import Progress, model_output
from medviz.explain.text import TextExplainer, _TOKEN_RE


TEXT_IMPORTANCE_FILE = "text_importance.csv"


def global_text_importance(
    explainer: TextExplainer,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    top_n: int = 15,
    min_count: int = 2,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Words with the largest mean SHAP contribution per diagnosis, over a set of texts.

    Each text is explained once (all classes). It counts towards the diagnosis in ``labels`` (the
    true labels, when given) or else towards its top-1 prediction; for that diagnosis every word
    occurrence adds its SHAP value (probability scale). Words are lower-cased as the model reads
    them; a word needs ``min_count`` occurrences. Columns: diagnosis, word, mean_shap, count,
    n_texts (texts of that diagnosis), basis ("true label" / "predicted label").

    The words explained are those the model reads: each text goes through the text pipeline's
    checks and the bundle's preprocessing first (:func:`medviz.text.analyse.model_texts`), as on the
    Case page; texts the pipeline refuses (empty, unreadable, every finding negated) are skipped.
    """
    if labels is not None and len(labels) != len(texts):
        raise InputError(f"labels: {len(labels)} given for {len(texts)} texts")
    from medviz.text.analyse import model_texts

    texts = model_texts(explainer.predictor, list(texts))
    rows: list[tuple[str, str, float]] = []
    n_texts: dict[str, int] = {}
    usable = 0
    for i, text in enumerate(texts):
        if progress:
            progress(i, len(texts))
        if not isinstance(text, str) or not _TOKEN_RE.search(text):
            continue
        exp = explainer.explain(text)
        if labels is not None:
            lab = str(labels[i])
            if lab not in explainer.labels:
                continue
            j = explainer.labels.index(lab)
        else:
            j = int(np.argmax(model_output(exp)))
        usable += 1
        diag = explainer.labels[j]
        n_texts[diag] = n_texts.get(diag, 0) + 1
        for name, v in zip(exp.feature_names, exp.values[:, j]):
            rows.append((diag, name.lower(), float(v)))
    if progress:
        progress(len(texts), len(texts))
    cols = ["diagnosis", "word", "mean_shap", "count", "n_texts", "basis"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows, columns=["diagnosis", "word", "shap"])
    g = df.groupby(["diagnosis", "word"], as_index=False).agg(mean_shap=("shap", "mean"), count=("shap", "size"))
    g = g[g["count"] >= min_count]
    g = g.sort_values(["diagnosis", "mean_shap"], ascending=[True, False])
    g = g.groupby("diagnosis", as_index=False, group_keys=False).head(top_n)
    g["n_texts"] = g["diagnosis"].map(n_texts).astype(int)
    g["basis"] = "true label" if labels is not None else "predicted label"
    g.attrs["n_texts"] = usable
    return g[cols].reset_index(drop=True)


def read_text_importance(bundle: ModelBundle) -> pd.DataFrame | None:
    """The per-diagnosis word table shipped in a text bundle (None if the bundle has none)."""
    if TEXT_IMPORTANCE_FILE not in bundle.manifest.get("files", {}):
        return None
    try:
        return pd.read_csv(bundle.file(TEXT_IMPORTANCE_FILE), keep_default_na=False)
    except Exception as exc:  # pandas parser errors vary
        raise BundleError(f"{bundle.path / TEXT_IMPORTANCE_FILE}: could not read ({exc})") from None
