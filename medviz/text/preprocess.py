"""Preprocessing applied to raw text before the text model, named in the bundle manifest.

Training, the Case page and CSV scoring all call :func:`apply_preprocessing` with the kind the
manifest records, so the model always reads text prepared exactly as in training.
"""
from __future__ import annotations

from typing import Any, Mapping

from medviz.errors import BundleError, InputError

KINDS = ("none", "clinical")


def preprocessing_manifest(kind: str) -> dict[str, Any]:
    if kind == "none":
        return {"kind": "none", "steps": []}
    if kind == "clinical":
        from medviz.text.clinical import PREPROCESSING_ID

        return {
            "kind": "clinical",
            "id": PREPROCESSING_ID,
            "function": "medviz.text.clinical.preprocess",
            "steps": [
                "vital signs parsed with units against adult reference ranges; abnormal ones kept as findings",
                "assertion status of each finding with medspaCy ConText (present, absent, uncertain, historical, "
                "family/other person); only present findings reach the model",
                "clinician register rewritten where the context fixes the meaning (abbreviations, terms, age/sex, durations)",
            ],
        }
    raise InputError(f"unknown preprocessing '{kind}'; expected one of {', '.join(KINDS)}")


def bundle_preprocessing(manifest: Mapping[str, Any]) -> str:
    """The preprocessing kind a bundle was trained with; refuses versions this code cannot reproduce."""
    section = manifest.get("preprocessing") or {"kind": "none"}
    kind = section.get("kind", "none")
    if kind not in KINDS:
        raise BundleError(f"manifest 'preprocessing.kind' is '{kind}'; this version knows {', '.join(KINDS)}")
    if kind == "clinical":
        from medviz.text.clinical import PREPROCESSING_ID

        if section.get("id") != PREPROCESSING_ID:
            raise BundleError(
                f"manifest 'preprocessing.id' is '{section.get('id')}' but this code implements '{PREPROCESSING_ID}': "
                "retrain the model or use the matching medviz version"
            )
    return kind


def apply_preprocessing(kind: str, texts: list[str]) -> list[str]:
    if kind == "none":
        return [str(t) for t in texts]
    if kind == "clinical":
        from medviz.text.clinical import preprocess_many

        return preprocess_many([str(t) for t in texts])
    raise InputError(f"unknown preprocessing '{kind}'; expected one of {', '.join(KINDS)}")
