"""Model families: one object per kind of model, behind one interface (:class:`ModelFamily`).

A family (text classification, tabular risk, ...) declares what its bundles accept and return
(``input_spec`` / ``output_spec``, LIT's pattern), checks its sections of a manifest, and provides
the functions every path calls: ``predictor`` (the compiled model), ``analyse`` (a batch; a single
case is a batch of one), ``scorer`` (a table chunk in, the scored-CSV contract columns out — used by
the Batch page, ``score`` and external validation), ``explainer`` and ``evaluate`` (labels + scored
rows -> the one evaluation result the page, the model card and ``evaluate --json`` render).
Everything that depends on the kind of model dispatches through :func:`family_for`.

How to add a family (e.g. an imported Keras model of a new kind):

1. Write a package ``medviz/<family>/`` with a ``family.py`` that defines a subclass of
   :class:`medviz.families.base.ModelFamily` and a module-level instance ``FAMILY``: ``task`` is the
   manifest's ``"task"`` value; implement ``validate_manifest``, ``input_spec``, ``output_spec``,
   ``predictor``, ``analyse``, ``scorer``, ``evaluate`` (and ``explainer`` if it can explain);
   ``case_view`` names the Streamlit module whose ``render(bundle)`` draws its Case page form.
2. Register it: one line in :data:`_BUILTIN` below (``"task": "medviz.<family>.family:FAMILY"``), or
   ``register(MyFamily())`` from a plugin before the first bundle is loaded.

Nothing else changes: bundle loading (the manifest's task is checked against this registry), the
sidebar picker, the Case / Batch / Evaluation pages, ``score`` and ``evaluate`` look the family up here.
Built-in families are imported on first use, so importing this module does not import TensorFlow.
"""
from __future__ import annotations

import importlib

from medviz.errors import UnsupportedBundleError
from medviz.families.base import FieldSpec, ModelFamily  # noqa: F401 (the interface, re-exported)

# task -> "module:attribute" of the family object, imported on first use
_BUILTIN: dict[str, str] = {
    "text_classification": "medviz.text.family:FAMILY",
    "tabular_binary": "medviz.tabular.family:FAMILY",
}
_FAMILIES: dict[str, ModelFamily] = {}


def register(family: ModelFamily) -> ModelFamily:
    """Add (or replace) the family serving ``family.task``."""
    if not getattr(family, "task", None):
        raise ValueError("a model family needs a 'task' (the manifest's task value)")
    _FAMILIES[family.task] = family
    return family


def known_tasks() -> tuple[str, ...]:
    return tuple(dict.fromkeys([*_BUILTIN, *_FAMILIES]))


def family_for_task(task: str) -> ModelFamily:
    """The family of a manifest task; UnsupportedBundleError for a task nobody registered."""
    if task not in _FAMILIES:
        target = _BUILTIN.get(task)
        if target is None:
            raise UnsupportedBundleError(f"no model family serves task '{task}' (known: {', '.join(known_tasks())})")
        module, attr = target.split(":")
        register(getattr(importlib.import_module(module), attr))
    return _FAMILIES[task]


def family_for(bundle) -> ModelFamily:
    """The family of a loaded bundle (:class:`medviz.bundle.ModelBundle`)."""
    return family_for_task(bundle.task)
