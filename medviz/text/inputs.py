"""Checks on a free-text case before and beside the prediction (CLINICAL.md W5)."""
from __future__ import annotations

from dataclasses import dataclass

from medviz.errors import InputError
from medviz.text.predict import TextPredictor, Token

MAX_CHARS = 20_000  # longer input is cut before it reaches the model (it reads far fewer tokens anyway)
MIN_TOKENS = 3
UNKNOWN_SHARE_WARN = 0.5


@dataclass(frozen=True)
class InputCheck:
    text: str  # what the model is given (possibly cut to MAX_CHARS)
    tokens: tuple[Token, ...]
    n_tokens: int
    n_known: int
    truncated: bool  # more tokens than the model reads
    warnings: tuple[str, ...]

    @property
    def unknown_share(self) -> float:
        return 1.0 - self.n_known / self.n_tokens if self.n_tokens else 1.0


def check_text(predictor: TextPredictor, text: str | None) -> InputCheck:
    """Tokens the model will read and plain-English warnings. Raises InputError for empty input."""
    if text is None or not str(text).strip():
        raise InputError("case text is empty: describe the patient's symptoms in a sentence or two")
    text = str(text)
    warnings = []
    if len(text) > MAX_CHARS:
        warnings.append(
            f"The text is {len(text):,} characters long; only the first {MAX_CHARS:,} were considered."
        )
        text = text[:MAX_CHARS]
    tokens = tuple(predictor.tokens(text))
    n = len(tokens)
    known = sum(t.known for t in tokens)
    truncated = n > predictor.seq_len
    if n == 0:
        warnings.append(
            "No words the model can read were found (it reads English letters and digits only); "
            "the list below is not based on your text."
        )
    elif n < MIN_TOKENS:
        warnings.append(f"Very short input ({n} word{'s' if n != 1 else ''}): the model needs a fuller description.")
    if n and known == 0:
        warnings.append("None of the words are in the model's vocabulary: the list below is not based on your text.")
    elif n and 1 - known / n > UNKNOWN_SHARE_WARN:
        warnings.append(
            f"{1 - known / n:.0%} of the words ({n - known} of {n}) are unknown to the model; "
            "it is judging from the rest only."
        )
    if truncated:
        warnings.append(
            f"The model reads the first {predictor.seq_len} words; the remaining {n - predictor.seq_len} were ignored."
        )
    return InputCheck(text=text, tokens=tokens, n_tokens=n, n_known=known, truncated=truncated, warnings=tuple(warnings))
