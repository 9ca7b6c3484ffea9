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


def preprocess_batch(kind: str, texts: list[str]) -> list["Preprocessed"]:
    """The full reading of every text of a batch (model text, findings, recognised terms, warnings),
    as :func:`medviz.text.clinical.preprocess` gives for one; the one preprocessing call of the text
    pipeline (single case = batch of one).

    ``clinical``: ``medviz.text.clinical.preprocess_batch`` when that module provides it; otherwise
    :func:`~medviz.text.clinical.preprocess` on the texts a rule could touch
    (:func:`~medviz.text.clinical.needs_rules`) and the text as typed for the rest (preprocess would
    only tidy their spaces, which the tokenizer drops: tests/text/test_clinical_fastpath.py)."""
    from medviz.text.clinical import Preprocessed

    texts = [str(t) for t in texts]
    if kind == "none":
        out = [Preprocessed(original=t, model_text=t, terms=(), negated=()) for t in texts]
        from medviz.text.zh import is_chinese

        zh = [i for i, t in enumerate(texts) if is_chinese(t)]
        if zh:  # Chinese notes: findings with their status for display; the model reads the note as written
            from medviz.text.clinical.chinese import preprocess_all

            for i, p in zip(zh, preprocess_all([texts[i] for i in zh], remove=False)):
                out[i] = p
        return out
    if kind != "clinical":
        raise InputError(f"unknown preprocessing '{kind}'; expected one of {', '.join(KINDS)}")
    from medviz.text import clinical

    if hasattr(clinical, "preprocess_batch"):
        return list(clinical.preprocess_batch(texts))
    if not texts:
        return []
    rules = clinical.needs_rules(texts)
    return [clinical.preprocess(t) if r else Preprocessed(original=t, model_text=t, terms=(), negated=()) for t, r in zip(texts, rules)]


def apply_preprocessing(kind: str, texts: list[str]) -> list[str]:
    if kind == "none":
        return [str(t) for t in texts]
    if kind == "clinical":
        from medviz.text.clinical import preprocess_many

        return preprocess_many([str(t) for t in texts])
    raise InputError(f"unknown preprocessing '{kind}'; expected one of {', '.join(KINDS)}")
