"""Per-call, per-thread random state for shap's Partition explainer (no use of numpy's global RNG).

shap 0.51's Owen recursion (``shap/explainers/_partition.py``, ``PartitionExplainer.owen``) breaks ties
in its priority queue with ``np.random.randn()``, i.e. numpy's process-global generator. Seeding that
generator for a call (``np.random.seed``) is what made a text explanation repeatable, but with several
sessions explaining at once the seeds and draws of different patients interleave, and any other code
drawing from the global generator meanwhile changes the result.

shap offers no ``random_state`` for this, so :func:`seeded` gives each call its own
``np.random.default_rng(seed)`` in a thread-local slot, and the ``np`` name inside that one shap module is
replaced (once, idempotently) by a view of numpy whose ``random.randn`` draws from the calling thread's
generator; every other attribute is numpy's own. Same values as shap's stock code for a given sequence
of draws; different threads never share a generator. Hand-written because shap has no hook for it;
``tests/test_explain_concurrency.py`` checks it (50 concurrent explanations equal their one-at-a-time
results). A thread that calls shap outside :func:`seeded` gets a fresh unseeded generator per draw
sequence (still not the global one).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

_local = threading.local()
_install_lock = threading.Lock()


def _generator() -> np.random.Generator:
    rng = getattr(_local, "rng", None)
    if rng is None:
        rng = _local.rng = np.random.default_rng()
    return rng


class _ThreadRandom:
    """``np.random`` as shap's partition module sees it: ``randn`` from the thread's own generator."""

    def randn(self, *shape: int) -> Any:
        return _generator().standard_normal(shape if shape else None)

    def __getattr__(self, name: str) -> Any:
        return getattr(np.random, name)


class _NumpyView:
    """numpy, except ``random`` (see :class:`_ThreadRandom`)."""

    random = _ThreadRandom()

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


def install() -> None:
    """Point shap's partition module at the thread-local generator (idempotent, thread-safe)."""
    from shap.explainers import _partition

    with _install_lock:
        if not isinstance(_partition.np, _NumpyView):
            _partition.np = _NumpyView()


@contextmanager
def seeded(seed: int) -> Iterator[np.random.Generator]:
    """Within the block, shap's Partition explainer on this thread draws from ``default_rng(seed)``."""
    install()
    previous = getattr(_local, "rng", None)
    _local.rng = np.random.default_rng(seed)
    try:
        yield _local.rng
    finally:
        _local.rng = previous
