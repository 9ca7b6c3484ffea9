"""Per-case SHAP for text bundles: shap's Partition explainer over the model's own words, fed by one compiled call."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from medviz import shap_rng
from medviz.errors import InputError
from medviz.explain.common import model_output
from medviz.text.layers import TOKEN_PATTERN


_TOKEN_RE = re.compile(TOKEN_PATTERN)


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

    def __init__(self, max_tokens: int | None = None, token_re: re.Pattern | None = None):
        self.max_tokens = max_tokens
        self.token_re = token_re or _TOKEN_RE  # an imported model's own word rule (TextPredictor.token_re)

    def __call__(self, s: str, return_offsets_mapping: bool = True) -> dict[str, list]:
        matches = list(self.token_re.finditer(s))
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


def check_explainable(text: str, max_tokens: int | None = None, token_re: re.Pattern | None = None) -> list[re.Match]:
    """The words of ``text`` the model reads; refuses a text with none (nothing to explain)."""
    if not isinstance(text, str):
        raise InputError(f"text: expected a string, got {type(text).__name__}")
    words = list((token_re or _TOKEN_RE).finditer(text))
    if not words:
        raise InputError("text: no words the model can read (letters or digits), nothing to explain")
    return words[:max_tokens] if max_tokens else words


@dataclass(frozen=True)
class TextExplainer:
    """Partition SHAP for one text bundle. Build once per bundle (UI: ``st.cache_resource``); safe to
    share between threads and sessions.

    Thread safety (issue 17): shap's Text masker keeps the text being explained inside it and the
    Partition explainer keeps its working arrays on itself, so one shared pair mixed patients when
    sessions explained at once. Only the compiled model function (read-only) is shared; each
    :meth:`explain` call builds its own masker and explainer (≈1 ms) and draws shap's tie-breaks from
    its own ``np.random.default_rng(seed)`` (:mod:`medviz.shap_rng`), never numpy's global generator.

    ``max_evals`` model evaluations per case in batches of ``batch_size`` nodes of the Owen
    recursion (2 masked texts each). Small batches keep shap's priority order (the same values as
    the stock explainer), large ones cost fewer calls. Measured on ~40-word cases (2 quiet cores,
    benchmarks/explain.py): 500 evals / batches of 25 took 407 ms with rank correlation 1.00 to the
    stock explainer; 400 / 64 took 277 ms with 0.95-0.97; 300 / 64 took 220 ms but fell to 0.82.
    400 / 64 is the default.
    """

    predictor: Any
    labels: tuple[str, ...]
    seq_len: int  # words explained: every word the model reads (TextPredictor.read_limit)
    _fn: Callable = field(repr=False)
    max_evals: int = 400
    batch_size: int = 64

    @classmethod
    def from_predictor(cls, predictor, *, max_evals: int = 400, batch_size: int = 64) -> "TextExplainer":
        import shap

        fn = trimmed_probability_function(predictor)
        # every word the model reads (overlapping windows), not only the first window
        return cls(predictor, tuple(predictor.bundle.labels), predictor.read_limit, fn, max_evals, batch_size)

    def _partition_explainer(self):
        """A fresh masker + Partition explainer for one call (they hold per-call state)."""
        import shap

        masker = shap.maskers.Text(ModelTokenizer(self.seq_len, self.token_re))
        return shap.explainers.Partition(self._fn, masker, output_names=list(self.labels))

    @property
    def token_re(self) -> re.Pattern:
        """The words SHAP masks: the model's own word rule (imported models differ from medviz's)."""
        return getattr(self.predictor, "token_re", None) or _TOKEN_RE

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """The calibrated probabilities the explainer explains (same function)."""
        return self._fn(list(texts))

    def explain(self, text: str, *, seed: int = 0) -> "shap.Explanation":  # noqa: F821
        """SHAP values (n_words, n_classes) for one case; ``base_values`` (n_classes,).

        ``data`` holds each word with the separator after it (so joining ``data`` rebuilds the text
        the model read); ``feature_names`` the words as typed.
        """
        import shap

        words = check_explainable(text, self.seq_len, self.token_re)
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
        # shap breaks ties in its priority queue with random draws: a per-call seeded generator makes a
        # case explain the same twice, whatever other threads do meanwhile.
        explainer = self._partition_explainer()
        with shap_rng.seeded(seed):
            raw = explainer([text], max_evals=self.max_evals, batch_size=self.batch_size, silent=True)
        values = np.asarray(raw.values[0], dtype=np.float64)
        base = np.asarray(raw.base_values[0], dtype=np.float64)
        segments = np.asarray(raw.data[0], dtype=object)
        # shap's segments drop text before the first word and after the last one; put it back so
        # joining ``data`` shows the whole text read (punctuation included).
        segments[0] = text[: words[0].start()] + segments[0]
        if len(self.token_re.findall(text)) == len(words):
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


def attention_explanation(predictor, text: str, like=None):
    """Attention weights over the same words as a SHAP text explanation, as an Explanation.

    ``values`` (n_words,) are the model's attention weights (they sum to 1 over the words read);
    ``base_values`` is 0 (attention has no baseline: it is not an additive explanation).
    """
    import shap

    words = check_explainable(text, predictor.read_limit, getattr(predictor, "token_re", None))
    att = predictor.predict([text]).attention[0][: len(words)].astype(np.float64)
    data = like.data if like is not None else np.asarray([m.group() for m in words], dtype=object)
    return shap.Explanation(values=att, base_values=0.0, data=data, feature_names=[m.group() for m in words])


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
    all_words = list((getattr(explainer.predictor, "token_re", None) or _TOKEN_RE).finditer(text))
    n_read = exp.values.shape[0]
    tail = text[all_words[n_read - 1].end():] if len(all_words) > n_read else ""
    return TextCaseExplanation(
        shap=exp,
        attention=att,
        probabilities=model_output(exp),
        words_not_read=max(0, len(all_words) - n_read),
        unread_tail=tail,
    )
