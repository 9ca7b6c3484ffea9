"""Out-of-scope text for outlier exposure and for evaluating the out-of-scope detector.

Outlier exposure (Hendrycks et al., ICLR 2019): during training the model also sees text about other
conditions, with a loss that pushes its prediction on them towards the uniform distribution, so its
logits (energy score) separate "like the training cases" from "something else".

The source is mtsamples (CC0 clinician transcriptions, one CSV). It holds 4,999 rows but only ~2,350
distinct transcriptions (a note is filed under a document type and a specialty), so rows are
de-duplicated on the transcription before anything else, and split by note into an exposure part
(used in training) and a held-out part (never trained on; used only to measure AUROC). Notes whose
snippet mentions any of the 22 in-scope conditions are dropped, so the exposure set never teaches the
model that, say, "pneumonia" means "out of scope".
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medviz.errors import InputError

log = logging.getLogger(__name__)

# Word stems for the 22 in-scope diagnoses and their hallmark words; a snippet containing any is
# excluded from the out-of-scope sets.
IN_SCOPE_STEMS = (
    "allerg", "rhinitis", "hay fever", "arthrit", "osteoarthr", "asthma", "wheez", "spondylo", "cervical spine",
    "chickenpox", "chicken pox", "varicella", "common cold", "upper respiratory", "uri ", "dengue", "diabet",
    "glucose", "insulin", "drug reaction", "drug eruption", "rash", "fungal", "tinea", "candid", "reflux", "gerd",
    "heartburn", "hypertens", "blood pressure", "impetigo", "jaundice", "icter", "bilirubin", "hepatitis", "malaria",
    "migraine", "peptic", "ulcer", "gastritis", "pneumonia", "psoria", "typhoid", "urinary tract infection", "uti",
    "cystitis", "pyelonephritis", "dysuria", "varicose", "venous insufficiency",
)
_STEM_RE = re.compile("|".join(re.escape(s) for s in IN_SCOPE_STEMS), re.I)
_HPI_RE = re.compile(
    r"(?:HISTORY OF PRESENT ILLNESS|HPI|SUBJECTIVE|CHIEF COMPLAINT|REASON FOR (?:CONSULTATION|VISIT|ADMISSION)|"
    r"BRIEF HISTORY)\s*:\s*,?\s*(.{20,600})",
    re.S,
)
MAX_SNIPPET_CHARS = 320


@dataclass(frozen=True)
class OutlierTexts:
    exposure: list[str]  # used in training (outlier exposure)
    held_out: list[str]  # never trained on: evaluation only
    n_notes: int  # distinct transcriptions before filtering
    n_excluded_in_scope: int


def _snippet(text: str) -> str:
    text = re.sub(r"\s*,\s*(?=[A-Z])", ". ", text)  # mtsamples uses ",HEADING:" separators
    text = re.sub(r"\s+", " ", text).strip(" ,.")
    if len(text) <= MAX_SNIPPET_CHARS:
        return text
    cut = text[:MAX_SNIPPET_CHARS]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def mtsamples_snippets(path: str | Path) -> tuple[pd.DataFrame, int, int]:
    """One row per distinct note: ``group`` (note id), ``text`` (a short clinician-register snippet)."""
    try:
        df = pd.read_csv(path, usecols=["description", "transcription"])
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the out-of-scope notes file {Path(path).name}: {exc}") from exc
    df = df.dropna(subset=["transcription"]).drop_duplicates("transcription").reset_index(drop=True)
    n_notes = len(df)
    rows = []
    for i, (desc, tr) in enumerate(zip(df["description"].fillna(""), df["transcription"])):
        m = _HPI_RE.search(tr)
        for raw in (desc, m.group(1) if m else ""):
            snip = _snippet(str(raw))
            if len(snip.split()) >= 5:
                rows.append((i, snip))
    out = pd.DataFrame(rows, columns=["group", "text"]).drop_duplicates("text")
    bad_groups = set(out.loc[out["text"].str.contains(_STEM_RE), "group"])
    out = out[~out["group"].isin(bad_groups)].reset_index(drop=True)
    return out, n_notes, len(bad_groups)


def load_outlier_texts(path: str | Path, held_out_fraction: float = 0.3, seed: int = 42) -> OutlierTexts:
    """De-duplicate, drop in-scope notes, and split by note into exposure / held-out texts."""
    snippets, n_notes, n_bad = mtsamples_snippets(path)
    groups = snippets["group"].unique()
    rng = np.random.default_rng(seed)
    held = set(rng.choice(groups, size=int(round(len(groups) * held_out_fraction)), replace=False))
    is_held = snippets["group"].isin(held)
    log.info("outlier texts: %d notes, %d excluded as in-scope, %d snippets", n_notes, n_bad, len(snippets))
    return OutlierTexts(
        exposure=snippets.loc[~is_held, "text"].tolist(),
        held_out=snippets.loc[is_held, "text"].tolist(),
        n_notes=n_notes,
        n_excluded_in_scope=n_bad,
    )
