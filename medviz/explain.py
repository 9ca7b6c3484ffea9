"""SHAP and attention explanations for both model families; every result is a ``shap.Explanation``.

Text (per case)
    :class:`TextExplainer` runs shap's Partition explainer (Owen values over shap's token
    hierarchy) with a ``shap.maskers.Text`` masker whose tokenizer is the model's own regex
    (:data:`medviz.text.layers.TOKEN_PATTERN`), so every SHAP feature is exactly one word the
    model reads. A masked word is deleted (the masker's "..." is a separator for the model). The
    model behind it is one compiled ``tf.function`` fed the whole batch of masked strings; it
    trims the trailing padding columns the vectorizer adds (the masked BiGRU gives the same
    probabilities, checked against :class:`TextPredictor` when it is built), which halves the cost
    of the recurrent layer for short cases. Values are on the calibrated probability scale for
    every class; the base value is the model's output with every word masked (an empty text).

Tabular (per row and global)
    :class:`TabularExplainer` computes **exact** interventional Shapley values on the probability
    scale (model output 0): for F features it evaluates the model on all 2^F coalitions of each row
    against a background sample of the bundle's training rows (``reference.csv``), averaged over
    the background, and combines them with the Shapley weights in one matrix product. With F = 7 that
    is 128 coalitions; the masked rows are built inside the compiled function, so 10,000 rows take a
    few seconds. The base value is the mean risk over the background.

Both satisfy additivity: base value + sum of SHAP values == model output (tested to 1e-4).
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import BundleError, InputError, UnsupportedBundleError
from medviz.text.layers import TOKEN_PATTERN

log = logging.getLogger(__name__)

_TOKEN_RE = re.compile(TOKEN_PATTERN)
Progress = Callable[[int, int], None]  # (done, total)

TEXT_IMPORTANCE_FILE = "text_importance.csv"
REFERENCE_FILE = "reference.csv"

SCALE_NOTE = "calibrated probability"


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


class ModelTokenizer:
    """shap Text-masker tokenizer that splits exactly like the model (runs of ASCII letters/digits).

    Returns the HuggingFace-style dict shap expects (``input_ids`` + ``offset_mapping``). Only the
    first ``max_tokens`` words are returned: the model never reads past its sequence length, so
    words beyond it cannot contribute and are left out of the explanation (the view says so).

    shap asks the tokenizer for the id of its mask token ("..."), which has no word in it; a string
    without any word therefore yields one empty token. Real inputs without words are refused
    before they reach shap (:func:`check_explainable`).
    """

    def __init__(self, max_tokens: int | None = None):
        self.max_tokens = max_tokens

    def __call__(self, s: str, return_offsets_mapping: bool = True) -> dict[str, list]:
        matches = list(_TOKEN_RE.finditer(s))
        if self.max_tokens is not None:
            matches = matches[: self.max_tokens]
        if not matches:
            out: dict[str, list] = {"input_ids": [] if s == "" else [""]}
            if return_offsets_mapping:
                out["offset_mapping"] = [] if s == "" else [(0, 0)]
            return out
        out = {"input_ids": [m.group().lower() for m in matches]}
        if return_offsets_mapping:
            out["offset_mapping"] = [m.span() for m in matches]
        return out


def trimmed_probability_function(predictor, batch_size: int = 4096) -> Callable[[Sequence[str]], np.ndarray]:
    """A compiled ``strings -> calibrated probabilities (N, C)`` function for masked batches.

    :class:`~medviz.text.predict.TextPredictor` already cuts the padding after the longest text of
    each batch inside its compiled graph (checked against the full model when it is built), so the
    GRU runs over ~30 steps instead of 64; this only adapts its output to what shap expects.
    """

    def run(texts: Sequence[str]) -> np.ndarray:
        return predictor.predict([str(t) for t in texts], batch_size=batch_size).probabilities.astype(np.float64)

    return run


def check_explainable(text: str, max_tokens: int | None = None) -> list[re.Match]:
    """The words of ``text`` the model reads; refuses a text with none (nothing to explain)."""
    if not isinstance(text, str):
        raise InputError(f"text: expected a string, got {type(text).__name__}")
    words = list(_TOKEN_RE.finditer(text))
    if not words:
        raise InputError("text: no words the model can read (letters or digits), nothing to explain")
    return words[:max_tokens] if max_tokens else words


@dataclass(frozen=True)
class TextExplainer:
    """Partition SHAP for one text bundle. Build once per bundle (UI: ``st.cache_resource``).

    ``max_evals`` model evaluations per case in batches of ``batch_size`` nodes of the Owen
    recursion (2 masked texts each). Small batches keep shap's priority order (the same values as
    the stock explainer), large ones cost fewer calls. Measured on ~40-word cases (2 quiet cores,
    benchmarks/explain.py): 500 evals / batches of 25 took 407 ms with rank correlation 1.00 to the
    stock explainer; 400 / 64 took 277 ms with 0.95-0.97; 300 / 64 took 220 ms but fell to 0.82.
    400 / 64 is the default.
    """

    predictor: Any
    labels: tuple[str, ...]
    seq_len: int
    _fn: Callable = field(repr=False)
    _explainer: Any = field(repr=False)
    max_evals: int = 400
    batch_size: int = 64

    @classmethod
    def from_predictor(cls, predictor, *, max_evals: int = 400, batch_size: int = 64) -> "TextExplainer":
        import shap

        fn = trimmed_probability_function(predictor)
        masker = shap.maskers.Text(ModelTokenizer(predictor.seq_len))
        labels = tuple(predictor.bundle.labels)
        explainer = shap.explainers.Partition(fn, masker, output_names=list(labels))
        return cls(predictor, labels, predictor.seq_len, fn, explainer, max_evals, batch_size)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """The calibrated probabilities the explainer explains (same function)."""
        return self._fn(list(texts))

    def explain(self, text: str, *, seed: int = 0) -> "shap.Explanation":  # noqa: F821
        """SHAP values (n_words, n_classes) for one case; ``base_values`` (n_classes,).

        ``data`` holds each word with the separator after it (so joining ``data`` rebuilds the text
        the model read); ``feature_names`` the words as typed.
        """
        import shap

        words = check_explainable(text, self.seq_len)
        if len(words) == 1:
            # One word: its Shapley value is exactly f(text) - f(empty); shap's word hierarchy
            # cannot be built for a single word, so it is computed directly.
            full, empty = self._fn([text, ""])
            return shap.Explanation(
                values=(full - empty)[None, :].astype(np.float64),
                base_values=empty.astype(np.float64),
                data=np.asarray([text[words[0].start():]], dtype=object),
                feature_names=[words[0].group()],
                output_names=list(self.labels),
            )
        # shap breaks ties in its priority queue with np.random: seed it so a case explains the same twice.
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            raw = self._explainer([text], max_evals=self.max_evals, batch_size=self.batch_size, silent=True)
        finally:
            np.random.set_state(state)
        values = np.asarray(raw.values[0], dtype=np.float64)
        base = np.asarray(raw.base_values[0], dtype=np.float64)
        segments = np.asarray(raw.data[0], dtype=object)
        # shap's segments drop text before the first word and after the last one; put it back so
        # joining ``data`` shows the whole text read (punctuation included).
        segments[0] = text[: words[0].start()] + segments[0]
        if len(_TOKEN_RE.findall(text)) == len(words):
            segments[-1] = segments[-1] + text[words[-1].end():]
        if values.shape[0] != len(words):
            raise InputError(f"text: the explainer saw {values.shape[0]} words, the model {len(words)}")
        return shap.Explanation(
            values=values,
            base_values=base,
            data=segments,
            feature_names=[m.group() for m in words],
            output_names=list(self.labels),
        )


def class_index(labels: Sequence[str], label: str | int) -> int:
    if isinstance(label, (int, np.integer)):
        if not 0 <= int(label) < len(labels):
            raise InputError(f"label index {label} out of range (0..{len(labels) - 1})")
        return int(label)
    try:
        return list(labels).index(label)
    except ValueError:
        raise InputError(f"diagnosis '{label}' is not one of the model's labels") from None


def for_class(explanation, label: str | int):
    """The (n_words,) explanation of one class out of a (n_words, n_classes) text explanation."""
    import shap

    j = class_index(explanation.output_names, label)
    return shap.Explanation(
        values=np.asarray(explanation.values)[:, j],
        base_values=float(np.asarray(explanation.base_values)[j]),
        data=explanation.data,
        feature_names=list(explanation.feature_names),
    )


def model_output(explanation) -> np.ndarray:
    """What an explanation adds up to: base value + sum of SHAP values over the features.

    Text explanations are (n_words, n_classes) with one base value per class -> (n_classes,);
    tabular ones are (N, F) with one base value per row -> (N,); a single-output one -> scalar.
    """
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.asarray(explanation.base_values, dtype=np.float64)
    if values.ndim == 1:
        return base + values.sum()
    if isinstance(explanation.output_names, (list, tuple)):  # text: words x classes
        return base + values.sum(axis=0)
    return base + values.sum(axis=1)


def attention_explanation(predictor, text: str, like=None):
    """Attention weights over the same words as a SHAP text explanation, as an Explanation.

    ``values`` (n_words,) are the model's attention weights (they sum to 1 over the words read);
    ``base_values`` is 0 (attention has no baseline: it is not an additive explanation).
    """
    import shap

    words = check_explainable(text, predictor.seq_len)
    att = predictor.predict([text]).attention[0][: len(words)].astype(np.float64)
    data = like.data if like is not None else np.asarray([m.group() for m in words], dtype=object)
    return shap.Explanation(values=att, base_values=0.0, data=data, feature_names=[m.group() for m in words])


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


@dataclass(frozen=True)
class TextCaseExplanation:
    """Everything the Case page shows about why, for one text (held in session state only)."""

    shap: Any  # shap.Explanation (n_words, n_classes)
    attention: Any  # shap.Explanation (n_words,)
    probabilities: np.ndarray  # (n_classes,) from the same function SHAP explains
    words_not_read: int
    unread_tail: str


def explain_text_case(explainer: TextExplainer, text: str) -> TextCaseExplanation:
    exp = explainer.explain(text)
    att = attention_explanation(explainer.predictor, text, like=exp)
    all_words = list(_TOKEN_RE.finditer(text))
    n_read = exp.values.shape[0]
    tail = text[all_words[n_read - 1].end():] if len(all_words) > n_read else ""
    return TextCaseExplanation(
        shap=exp,
        attention=att,
        probabilities=model_output(exp),
        words_not_read=max(0, len(all_words) - n_read),
        unread_tail=tail,
    )


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
    """
    if labels is not None and len(labels) != len(texts):
        raise InputError(f"labels: {len(labels)} given for {len(texts)} texts")
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


# --------------------------------------------------------------------------------------------
# Tabular
# --------------------------------------------------------------------------------------------


def shapley_weight_matrix(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """All 2^F coalitions (as a boolean (2^F, F) matrix) and the (2^F, F) matrix W with φ = v @ W.

    φ_i = Σ_{S ∌ i} |S|!(F-|S|-1)!/F! · (v(S ∪ {i}) - v(S)): each coalition value enters with
    weight +w(|S|-1) for the features in S and -w(|S|) for the features not in S.
    """
    if not 1 <= n_features <= 16:
        raise InputError(f"exact Shapley values need 1..16 features, the model has {n_features}")
    f = n_features
    codes = np.arange(2**f)
    masks = ((codes[:, None] >> np.arange(f)[None, :]) & 1).astype(bool)
    size = masks.sum(axis=1)
    w = np.array([math.factorial(s) * math.factorial(f - s - 1) / math.factorial(f) for s in range(f)])
    inside = np.where(size > 0, w[np.clip(size - 1, 0, f - 1)], 0.0)
    outside = np.where(size < f, w[np.clip(size, 0, f - 1)], 0.0)
    weights = np.where(masks, inside[:, None], -outside[:, None])
    return masks, weights


def _feature_dicts(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    feats = (manifest.get("inputs") or {}).get("features")
    if not isinstance(feats, list) or not feats:
        raise BundleError(f"bundle '{manifest.get('name')}': inputs.features must list the model's features")
    out = []
    for i, f in enumerate(feats):
        if isinstance(f, str):
            f = {"name": f}
        if not isinstance(f, Mapping) or "name" not in f:
            raise BundleError(f"bundle '{manifest.get('name')}': inputs.features[{i}] needs a 'name'")
        out.append(dict(f))
    return out


def format_value(value: float, spec: Mapping[str, Any]) -> str:
    """A feature value with its unit, as the waterfall and ``top_reasons`` print it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "blank (imputed)"
    v = float(value)
    txt = f"{v:.0f}" if spec.get("type") == "integer" or v.is_integer() else f"{v:.3g}"
    unit = str(spec.get("unit") or "")
    return f"{txt} {unit}".strip()


@dataclass(frozen=True)
class TabularExplainer:
    """Exact interventional Shapley values for a tabular bundle. Build once per bundle.

    ``background``: (B, F) rows the absent features are drawn from (a seeded sample of at most
    ``max_background`` of the bundle's training rows); ``base_value`` = mean risk over them.

    Two exact paths, same values (both tested against ``shap.explainers.Exact``):

    * generic: the model itself is evaluated on every (row, coalition, background row): N·2^F·B
      rows through the compiled function. Fine for a case or a few hundred rows.
    * logit-additive: when the model is ``risk = sigmoid(c + Σ_j g_j(x_j))`` (a logistic model
      or GAM, checked numerically on the background and on every explained row), each g_j is
      evaluated by the model only on the distinct values of feature j, and the coalition value
      is v(S) = H_S(c + Σ_{j∈S} g_j(x_j)) with H_S(a) = mean_b sigmoid(a + Σ_{j∉S} g_j(b_j)).
      Fewer than ``TABLE_MIN_ROWS`` rows compute H_S directly (2^F·B sigmoids per row). Larger
      batches (scored files) read H_S from a cubic Hermite table (:class:`_CoalitionTable`,
      built once, well under a second): 2^F·B = 25,600 sigmoids per row would take minutes for
      a million rows. The table's error is below 2.1e-9 per coalition value (analytic bound,
      checked in the tests), so each SHAP value is within 5e-9 of the direct sum — below the
      float32 rounding of the model itself — and v(full) = sigmoid(logit) and v(empty) = the
      background mean are exact, so base + Σ SHAP = risk still holds. Rows that fail the
      additivity check (or any non-additive model) take the generic path.
    """

    bundle: ModelBundle
    specs: tuple[dict, ...]
    background: np.ndarray = field(repr=False)
    base_value: float = 0.0
    additive: bool = False
    _fn: Any = field(repr=False, default=None)
    _masks: np.ndarray = field(repr=False, default=None)
    _weights: np.ndarray = field(repr=False, default=None)
    _reference: np.ndarray = field(repr=False, default=None)
    _bg_terms: np.ndarray = field(repr=False, default=None)
    _logit_fn: Any = field(repr=False, default=None)
    _cache: dict = field(repr=False, default_factory=dict)  # reference logit, coalition table (lazy)

    ADDITIVE_TOLERANCE = 1e-4  # max |logit f(x) - (c + Σ g_j)| for the fast path
    TABLE_MIN_ROWS = 2000  # from this many rows, coalition values come from the Hermite table

    @property
    def feature_names(self) -> list[str]:
        return [s["name"] for s in self.specs]

    @classmethod
    def from_bundle(
        cls,
        bundle: ModelBundle,
        background: np.ndarray | pd.DataFrame | None = None,
        *,
        max_background: int = 200,
        seed: int = 0,
        allow_additive: bool = True,
    ) -> "TabularExplainer":
        import tensorflow as tf

        if not bundle.is_tabular:
            raise UnsupportedBundleError(f"bundle '{bundle.name}' is a {bundle.task} model, not a tabular model")
        specs = tuple(_feature_dicts(bundle.manifest))
        names = [s["name"] for s in specs]
        model = bundle.model
        width = int(model.inputs[0].shape[-1])
        if width != len(names):
            raise BundleError(f"bundle '{bundle.name}': the model takes {width} features, the manifest lists {len(names)}")
        if background is None:
            background = load_background(bundle)
        bg = feature_array(background, names, "background")
        if len(bg) == 0:
            raise BundleError(f"bundle '{bundle.name}': the background sample is empty")
        if len(bg) > max_background:
            bg = bg[np.sort(np.random.default_rng(seed).choice(len(bg), size=max_background, replace=False))]
        masks, weights = shapley_weight_matrix(len(names))
        n_coal, n_bg = masks.shape[0], bg.shape[0]
        masks_tf = tf.constant(masks)
        bg_tf = tf.constant(bg.astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, len(names)], tf.float32)], reduce_retracing=True)
        def coalition_values(x):
            # (rows, coalitions, background, F): the row's value where the coalition has the
            # feature, else the background row's; one model call, then the mean over the background.
            mixed = tf.where(masks_tf[None, :, None, :], x[:, None, None, :], bg_tf[None, None, :, :])
            p = _risk(model(tf.reshape(mixed, [-1, len(names)]), training=False))
            return tf.reduce_mean(tf.reshape(tf.cast(p, tf.float64), [-1, n_coal, n_bg]), axis=2)

        # The log-odds: the model's own "logit" output when it has one (bundles built by
        # medviz.tabular.model), else from the probability (less precise near 0 and 1).
        out_names = list(getattr(model, "output_names", None) or [])
        logit_index = out_names.index("logit") if "logit" in out_names else None

        @tf.function(input_signature=[tf.TensorSpec([None, len(names)], tf.float32)], reduce_retracing=True)
        def logit_fn(x):
            out = model(x, training=False)
            if logit_index is not None:
                return tf.cast(out[logit_index][:, 0], tf.float64)
            p = tf.clip_by_value(tf.cast(_risk(out), tf.float64), 1e-12, 1 - 1e-12)
            return tf.math.log(p) - tf.math.log1p(-p)

        ex = cls(bundle, specs, bg, 0.0, False, coalition_values, masks, weights)
        base = float(ex._generic_values(bg[:1].astype(np.float32))[0, 0])
        ex = cls(bundle, specs, bg, base, False, coalition_values, masks, weights)
        if allow_additive:
            reference = np.nanmedian(bg, axis=0)
            reference = np.where(np.isnan(reference), 0.0, reference)
            probe = cls(bundle, specs, bg, base, True, coalition_values, masks, weights, reference, None, logit_fn)
            terms, ok = probe._logit_terms(bg)
            if ok.all():
                return cls(bundle, specs, bg, base, True, coalition_values, masks, weights, reference, terms, logit_fn)
        return ex

    # -- generic exact path ------------------------------------------------------------------
    def _generic_values(self, x: np.ndarray, max_model_rows: int = 1_000_000) -> np.ndarray:
        import tensorflow as tf

        per_row = self._masks.shape[0] * self.background.shape[0]
        step = max(1, max_model_rows // per_row)
        parts = [self._fn(tf.constant(x[i : i + step])).numpy() for i in range(0, len(x), step)]
        return np.concatenate(parts) if parts else np.zeros((0, self._masks.shape[0]))

    # -- logit-additive exact path -----------------------------------------------------------
    def _logit(self, x: np.ndarray, batch: int = 262_144) -> np.ndarray:
        import tensorflow as tf

        x = np.asarray(x, dtype=np.float32)
        parts = [self._logit_fn(tf.constant(x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _logit_terms(self, x: np.ndarray, full_logit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """g_j(x_j) = logit f(r with x_j) - logit f(r) per row and feature, and whether each row's
        logit equals logit f(r) + Σ_j g_j (the additivity the fast path relies on).

        g_j depends on x_j only, so the model sees the reference row with feature j set to each
        *distinct* value of column j (NaN included) — far fewer rows than N·F on real files.
        ``full_logit``: the rows' own log-odds when the caller already has them (one model call less).
        """
        n, f = x.shape
        x32 = np.asarray(x, dtype=np.float32)
        uniq, inverse = [], []
        for j in range(f):
            inv, u = pd.factorize(x32[:, j], use_na_sentinel=False)  # hash-based: ~4x np.unique
            uniq.append(np.asarray(u, dtype=np.float32))
            inverse.append(inv)
        sizes = [len(u) for u in uniq]
        single = np.repeat(self._reference[None, :].astype(np.float32), sum(sizes), axis=0)
        pos = 0
        for j, u in enumerate(uniq):
            single[pos : pos + len(u), j] = u
            pos += len(u)
        head = [self._reference[None, :].astype(np.float32)] + ([x32] if full_logit is None else [])
        lg = self._logit(np.concatenate(head + [single]))
        c = lg[0]
        if full_logit is None:
            full, per_value = lg[1 : n + 1], lg[n + 1 :] - c
        else:
            full, per_value = np.asarray(full_logit, dtype=np.float64), lg[1:] - c
        parts = np.empty((n, f), dtype=np.float64)
        pos = 0
        for j in range(f):
            parts[:, j] = per_value[pos : pos + sizes[j]][inverse[j]]
            pos += sizes[j]
        ok = np.abs(full - (c + parts.sum(axis=1))) <= self.ADDITIVE_TOLERANCE
        return parts, ok

    def _reference_logit(self) -> float:
        if "c" not in self._cache:
            self._cache["c"] = float(self._logit(self._reference[None, :])[0])
        return self._cache["c"]

    def _additive_values(self, terms: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Coalition values (N, 2^F) computed directly: 2^F·B sigmoids per row."""
        import tensorflow as tf

        c = self._reference_logit()
        m = self._masks.astype(np.float64)  # (2^F, F)
        from_row = (c + terms @ m.T).astype(np.float32)  # (N, 2^F): c + Σ_{j in S} g_j(x_j)
        from_bg = tf.constant((self._bg_terms @ (1.0 - m).T).T.astype(np.float32))  # (2^F, B): Σ_{j not in S} g_j(b_j)
        parts = [_mean_sigmoid(tf.constant(from_row[i : i + chunk]), from_bg).numpy()
                 for i in range(0, len(from_row), chunk)]
        return np.concatenate(parts).astype(np.float64)

    def _table(self) -> "_CoalitionTable":
        if "table" not in self._cache:
            self._cache["table"] = _CoalitionTable(self._masks, self._weights, self._bg_terms, self._reference_logit())
        return self._cache["table"]

    def explain(self, values: np.ndarray | pd.DataFrame, *, progress: Progress | None = None,
                chunk: int | None = None) -> "shap.Explanation":  # noqa: F821
        """SHAP values (N, F) for raw feature rows (NaN = blank, imputed inside the model).

        ``base_values`` (N,) all equal the mean risk over the background; base + Σ SHAP = risk.
        """
        import shap

        x = feature_array(values, self.feature_names, "rows").astype(np.float32)
        phi = self.shap_values(x, progress=progress, chunk=chunk)
        return shap.Explanation(
            values=phi,
            base_values=np.full(len(x), self.base_value),
            data=x.astype(np.float64),
            feature_names=self.feature_names,
            output_names="risk",
        )

    def shap_values(self, x: np.ndarray, *, progress: Progress | None = None, chunk: int | None = None,
                    logits: np.ndarray | None = None) -> np.ndarray:
        """The (N, F) SHAP values of :meth:`explain` as a plain array (raw rows in model order).

        ``logits``: the rows' log-odds if the caller has them (the scorer gets them with the risk).
        """
        x = np.asarray(x, dtype=np.float32)
        if chunk is None:
            chunk = 262_144 if self.additive else 2000
        phi = np.zeros((len(x), len(self.specs)))
        for i in range(0, len(x), chunk):
            xs = x[i : i + chunk]
            out = phi[i : i + len(xs)]
            if self.additive:
                lg = None if logits is None else np.asarray(logits)[i : i + chunk]
                terms, ok = self._logit_terms(xs, lg)
                if ok.sum() >= self.TABLE_MIN_ROWS:
                    out[ok] = self._table().shap_values(terms[ok])
                elif ok.any():
                    out[ok] = self._additive_values(terms[ok]) @ self._weights
                if (~ok).any():
                    out[~ok] = self._generic_values(xs[~ok]) @ self._weights
            else:
                out[:] = self._generic_values(xs) @ self._weights
            if progress:
                progress(min(i + chunk, len(x)), len(x))
        return phi

    def predict(self, values: np.ndarray | pd.DataFrame) -> np.ndarray:
        """Model output 0 (calibrated risk) for raw rows: what the explanations add up to."""
        import tensorflow as tf

        x = feature_array(values, self.feature_names, "rows").astype(np.float32)
        parts = [np.asarray(_risk(self.bundle.model(tf.constant(x[i : i + 262_144]), training=False)))
                 for i in range(0, len(x), 262_144)]
        return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


class _CoalitionTable:
    """Shapley values of a logit-additive model from tabulated coalition values (many rows).

    Hand-written because no library evaluates this game fast enough: for the coalition S the
    value is H_S(a) = mean_b sigmoid(a + d_S(b)), d_S(b) = Σ_{j∉S} g_j(b_j), a smooth function of
    the one number a = c + Σ_{j∈S} g_j(x_j). H_S and its derivative are computed exactly (float64)
    on a grid of step ``STEP`` over the range where H_S is not saturated (beyond it H_S is 0 or 1
    within 2.4e-16), and a row's value is the cubic Hermite interpolant. Its error is at most
    STEP^4/384 · max|sigmoid''''| = STEP^4/384 · 0.1277 ≈ 2.1e-9 for STEP = 0.05 (the 4th
    derivative of a mean of shifted sigmoids is bounded by the sigmoid's own). v(full) =
    sigmoid(a) and v(empty) = the background mean are set exactly, so the SHAP values add up.
    The per-row work (2^F table reads, Horner, φ = v @ W) is one XLA-fused function applied to
    blocks of ``BLOCK`` rows (fixed shape: compiled once).
    """

    STEP = 0.05
    SATURATION = 36.0  # sigmoid(-36) < 2.4e-16
    BLOCK = 8192
    ERROR_BOUND = STEP**4 / 384 * 0.1277

    def __init__(self, masks: np.ndarray, weights: np.ndarray, bg_terms: np.ndarray, c: float):
        import tensorflow as tf

        m = masks.astype(np.float64)
        n_coal, f = m.shape
        d = (bg_terms @ (1.0 - m).T).T  # (2^F, B)
        lo = -self.SATURATION - d.max(axis=1)
        hi = self.SATURATION - d.min(axis=1)
        h = self.STEP
        n_nodes = int(np.ceil((hi - lo).max() / h)) + 2
        grid = lo[:, None] + h * np.arange(n_nodes)[None, :]
        y = np.empty((n_coal, n_nodes))
        dy = np.empty((n_coal, n_nodes))
        for s in range(n_coal):  # (nodes, B) at a time
            sg = _sigmoid(grid[s][:, None] + d[s][None, :])
            y[s] = sg.mean(axis=1)
            dy[s] = (sg * (1.0 - sg)).mean(axis=1)
        y0, y1, m0, m1 = y[:, :-1], y[:, 1:], h * dy[:, :-1], h * dy[:, 1:]
        coef = np.stack([y0, m0, -3 * y0 - 2 * m0 + 3 * y1 - m1, 2 * y0 + m0 - 2 * y1 + m1], axis=-1)
        n_cells = n_nodes - 1
        full = int(np.flatnonzero(masks.all(axis=1))[0])
        empty = int(np.flatnonzero(~masks.any(axis=1))[0])
        is_full = np.zeros(n_coal)
        is_full[full] = 1.0
        keep = 1.0 - is_full
        keep[empty] = 0.0
        self.empty_value = float(_sigmoid(c + d[empty]).mean())
        self.grid, self.lo, self.d = grid, lo, d  # kept for the tests' direct check

        coef_t = tf.constant(coef.reshape(-1, 4))
        lo_t = tf.constant(lo)
        offsets = tf.constant(np.arange(n_coal, dtype=np.int32) * n_cells)
        mask_t = tf.constant(m.T)
        w_t = tf.constant(np.asarray(weights, dtype=np.float64))
        keep_t = tf.constant(keep)
        full_t = tf.constant(is_full)
        empty_t = tf.constant(np.eye(n_coal)[empty] * self.empty_value)

        def block(terms):
            a = c + tf.matmul(terms, mask_t)  # (n, 2^F)
            t = tf.clip_by_value((a - lo_t) * (1.0 / h), 0.0, n_cells - 1e-9)
            k = tf.cast(t, tf.int32)
            u = t - tf.cast(k, tf.float64)
            cf = tf.gather(coef_t, k + offsets)  # (n, 2^F, 4)
            v = ((cf[..., 3] * u + cf[..., 2]) * u + cf[..., 1]) * u + cf[..., 0]
            a_full = c + tf.reduce_sum(terms, axis=1, keepdims=True)
            v = v * keep_t + tf.sigmoid(a_full) * full_t + empty_t
            return tf.matmul(v, w_t)

        spec = [tf.TensorSpec([self.BLOCK, f], tf.float64)]
        self._fn = tf.function(block, input_signature=spec, jit_compile=True)
        self._fallback = tf.function(block, input_signature=spec)
        self.f = f

    def shap_values(self, terms: np.ndarray) -> np.ndarray:
        """(N, F) SHAP values from the (N, F) logit terms g_j(x_j)."""
        import tensorflow as tf

        n = len(terms)
        out = np.empty((n, self.f))
        for i in range(0, n, self.BLOCK):
            part = terms[i : i + self.BLOCK]
            pad = self.BLOCK - len(part)
            if pad:
                part = np.concatenate([part, np.zeros((pad, self.f))])
            x = tf.constant(part, tf.float64)
            try:
                res = self._fn(x)
            except Exception:  # XLA not available on this platform: the same graph, unfused
                self._fn = self._fallback
                res = self._fn(x)
            out[i : i + self.BLOCK] = res.numpy()[: self.BLOCK - pad]
        return out


def _sigmoid(z):
    """Float64 logistic function without overflow warnings."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def _mean_sigmoid(row_part, bg_part):
    """mean over background b of sigmoid(row_part[n, S] + bg_part[S, b]) -> (n, 2^F)."""
    return _MEAN_SIGMOID(row_part, bg_part)


def _make_mean_sigmoid():
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def fn(row_part, bg_part):
        return tf.reduce_mean(tf.sigmoid(row_part[:, :, None] + bg_part[None, :, :]), axis=2)

    return fn


class _Lazy:
    """Build the tf.function on first use (importing medviz.explain must not import TensorFlow)."""

    def __init__(self, factory):
        self.factory, self.fn = factory, None

    def __call__(self, *args):
        if self.fn is None:
            self.fn = self.factory()
        return self.fn(*args)


_MEAN_SIGMOID = _Lazy(_make_mean_sigmoid)


def _risk(out):
    """Output 0, column 0: the calibrated P(positive)."""
    p = out[0] if isinstance(out, (list, tuple)) else out
    return p[:, 0]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def feature_array(values: np.ndarray | pd.DataFrame, names: Sequence[str], what: str) -> np.ndarray:
    """(N, F) float array in the model's feature order; a frame is matched by column name."""
    if isinstance(values, pd.DataFrame):
        missing = [n for n in names if n not in values.columns]
        if missing:
            raise InputError(f"{what}: missing feature column(s): {', '.join(missing)}")
        frame = values[list(names)].apply(pd.to_numeric, errors="coerce")
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise InputError(f"{what}: expected {len(names)} feature values per row, got shape {arr.shape}")
    return arr


def load_background(bundle: ModelBundle) -> pd.DataFrame:
    """Training rows for the background: ``reference.csv`` if the bundle ships it, else test rows."""
    if REFERENCE_FILE in bundle.manifest.get("files", {}):
        return pd.read_csv(bundle.file(REFERENCE_FILE))
    if bundle.test_predictions is not None:
        return bundle.test_predictions
    raise BundleError(f"bundle '{bundle.name}' has neither {REFERENCE_FILE} nor test rows to use as SHAP background")


def test_rows(bundle: ModelBundle) -> pd.DataFrame | None:
    """The bundle's held-out rows with their feature values (None if the test file has none)."""
    tp = bundle.test_predictions
    if tp is None:
        return None
    names = [s["name"] for s in _feature_dicts(bundle.manifest)]
    return tp if all(n in tp.columns for n in names) else None


# --------------------------------------------------------------------------------------------
# top_reasons (scored CSVs)
# --------------------------------------------------------------------------------------------


def _signed(v: float) -> str:
    return f"{v:+.3f}"


def top_reasons_tabular(exp, specs: Sequence[Mapping[str, Any]], k: int = 3) -> list[str]:
    """Per row: the k largest |SHAP| features as ``name = value unit (+0.123)`` joined by "; "."""
    return top_reasons_array(exp.values, exp.data, specs, k).to_pylist()


def _reference_top_reasons(values, data, specs, k: int = 3) -> list[str]:
    """The plain Python definition of ``top_reasons`` (the tests check the fast one against it)."""
    values = np.asarray(values, dtype=float)
    data = np.asarray(data, dtype=float)
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    return ["; ".join(f"{specs[j].get('name')} = {format_value(data[r, j], specs[j])} ({_signed(values[r, j])})"
                      for j in order[r]) for r in range(values.shape[0])]


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest |values| per row, ties to the lower index (= stable argsort)."""
    a = np.abs(values)
    out = np.empty((len(a), k), dtype=np.int64)
    rows = np.arange(len(a))
    for r in range(k):
        j = np.argmax(a, axis=1)  # first maximum: the lower index wins a tie
        out[:, r] = j
        a[rows, j] = -1.0
    return out


def _value_keys(v: np.ndarray, integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """(key, exact) for :func:`format_value` of each value: equal keys give the same text.

    ``exact`` marks values keyed by themselves (NaN, exponent notation, rounding near a tie),
    the rest are keyed by what ``%.0f`` / ``%.3g`` keeps: the integer, or (sign, exponent, 3 digits).
    """
    key = np.array(v, dtype=np.float64, copy=True)
    exact = np.ones(len(v), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        finite = np.isfinite(v)
        whole = finite & (np.floor(v) == v) & (np.abs(v) < 2**53)
        exact[whole] = False  # an integer-valued float prints as that integer: key = itself
        key[whole & (v == 0) & np.signbit(v)] = -0.25  # -0.0 prints "-0"
        if integer:  # %.0f: half-even rounding of the exact value (np.rint is exact)
            r = np.rint(v)
            ok = finite & ~whole & (np.abs(v) < 2**52) & ~((r == 0) & np.signbit(v))
            key[ok], exact[ok] = r[ok], False
        else:  # %.3g: fixed notation for exponents -4..2, 3 significant digits
            a = np.abs(v)
            e = np.floor(np.log10(np.where(a > 0, a, 1.0)))
            scaled = a / 10.0 ** (e - 2)
            m = np.rint(scaled)
            up = m >= 1000
            e, scaled = np.where(up, e + 1, e), np.where(up, scaled / 10, scaled)
            m = np.rint(scaled)
            frac = scaled - np.floor(scaled)
            clear = (np.abs(frac - 0.5) > 1e-6) & (scaled > 100.0 + 1e-6) & (scaled < 1000.0 - 1e-6)
            ok = finite & ~whole & (a > 0) & (e >= -4) & (e <= 2) & clear
            key[ok] = np.where(np.signbit(v[ok]), -1.0, 1.0) * ((e[ok] + 10) * 10_000 + m[ok]) + 0.5  # never whole
            exact[ok] = False
    return key, exact


def _shap_keys(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(key, exact) for ``%+.3f`` of each SHAP value: the rounded thousandths, -0.000 apart."""
    s = np.asarray(v, dtype=np.float64) * 1000.0
    key = np.rint(s)
    frac = np.abs(s - np.trunc(s))
    exact = (np.abs(frac - 0.5) < 1e-6) | ~np.isfinite(s) | ((key == 0) & np.signbit(v))
    return np.where(exact, v, key), exact


def _texts_by_key(groups, fmt, n: int):
    """Arrow strings for n elements, formatting one representative per distinct key.

    ``groups``: (positions, key, exact, payload); ``fmt(payload, i)`` formats element i of a group.
    Keys of the ``exact`` and the other elements are never mixed (they mean different things).
    """
    import pyarrow as pa

    table: list[str] = []
    idx = np.zeros(n, dtype=np.int64)
    for pos, key, exact, payload in groups:
        for sel in (~exact, exact):
            where = np.flatnonzero(sel)
            if where.size == 0:
                continue
            codes, _ = pd.factorize(key[where], use_na_sentinel=False)
            # factorize numbers keys in order of first appearance: a code is new where the running
            # maximum grows, which gives one representative per code without a sort.
            top = np.maximum.accumulate(codes)
            new = np.empty(len(codes), dtype=bool)
            new[0] = True
            new[1:] = top[1:] > top[:-1]
            first = where[new]
            idx[pos[where]] = len(table) + codes
            table.extend(fmt(payload, int(i)) for i in first)
    return pa.array(table, type=pa.string()).take(pa.array(idx))


def top_reasons_array(values, data, specs: Sequence[Mapping[str, Any]], k: int = 3):
    """:func:`top_reasons_tabular` as a pyarrow string array, built column-wise.

    Hand-written because a Python f-string per row costs ~25 s for a million rows: each text
    piece is formatted once per *distinct* rendering (a key that determines what ``%.3g`` /
    ``%.0f`` / ``%+.3f`` print; values near a rounding tie are keyed by themselves) and the rows
    are assembled with pyarrow ``take`` and ``binary_join_element_wise``. Same text as
    :func:`_reference_top_reasons` (tested).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.asarray(values, dtype=np.float64)
    data = np.asarray(data, dtype=np.float64)
    n, f = values.shape
    k = min(k, f)
    if n == 0 or k == 0:
        return pa.array([""] * n, type=pa.string())
    order = _top_k(values, k)
    rows = np.arange(n)
    slots = []
    for r in range(k):
        j_r = order[:, r]
        v_r = data[rows, j_r]
        s_r = values[rows, j_r]
        groups = []
        for j in range(f):
            pos = np.flatnonzero(j_r == j)
            if pos.size:
                key, exact = _value_keys(v_r[pos], specs[j].get("type") == "integer")
                groups.append((pos, key, exact, (j, v_r[pos])))
        val = _texts_by_key(
            groups, lambda p, i: f"{specs[p[0]].get('name')} = {format_value(float(p[1][i]), specs[p[0]])} (", n)
        key, exact = _shap_keys(s_r)
        end = ")" if r == k - 1 else "); "
        shp = _texts_by_key([(rows, key, exact, s_r)], lambda p, i: f"{_signed(float(p[i]))}{end}", n)
        slots += [val, shp]
    return pc.binary_join_element_wise(*slots, "")


def top_reasons_text(exp, label: str | int, k: int = 3) -> str:
    """The k words with the largest |SHAP| for ``label``: ``word (+0.123); ...`` (words merged by sum)."""
    j = class_index(exp.output_names, label)
    merged: dict[str, float] = {}
    for name, v in zip(exp.feature_names, np.asarray(exp.values)[:, j]):
        merged[name.lower()] = merged.get(name.lower(), 0.0) + float(v)
    best = sorted(merged.items(), key=lambda kv: -abs(kv[1]))[:k]
    return "; ".join(f"{w} ({_signed(v)})" for w, v in best)
