"""Training-time augmentation towards the clinician register (used by medviz.text.train)."""
from __future__ import annotations

import re

_TELEGRAPHIC_DROP = {
    "i", "i'm", "im", "i've", "ive", "i'd", "my", "me", "myself", "have", "has", "had", "been", "having", "feel",
    "feeling", "felt", "really", "also", "a", "an", "the", "lot", "very", "lately", "recently", "quite", "just",
    "so", "too", "it's", "its", "is", "am", "are", "was", "were", "that", "this", "of", "all", "some", "bit",
    "pretty", "kind", "sort", "seem", "seems", "like", "get", "getting", "got", "do", "did", "experiencing",
    "suffering", "noticed", "notice", "from", "constantly", "always", "often", "sometimes",
}
_WORD_SPLIT = re.compile(r"[A-Za-z0-9'’]+|[.,;]")


def telegraphic(text: str, rng) -> str:
    """A terse, note-like rewrite of a patient-voice sentence ("I have been having a high fever and
    chills" -> "58 year old woman, high fever, chills"), so training does not tie the clinician
    register to "out of scope". ``rng`` is a numpy Generator (seeded by the caller)."""
    words = []
    for tok in _WORD_SPLIT.findall(text):
        low = tok.lower().replace("’", "'")
        if low in _TELEGRAPHIC_DROP:
            continue
        if low == "and" and rng.random() < 0.5:
            words.append(",")
            continue
        words.append(tok if tok in ".,;" else low)
    out = " ".join(words)
    out = re.sub(r"\s+([.,;])", r"\1", out)
    out = re.sub(r"([.,;])(?:\s*[.,;])+", r"\1", out).strip(" ,.;")
    if rng.random() < 0.6:
        age = int(rng.integers(18, 85))
        out = f"{age} year old {'man' if rng.random() < 0.5 else 'woman'}, {out}"
    return out
