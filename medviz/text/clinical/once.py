"""Build-once caches for the clinical readers (spaCy + medspaCy pipelines), safe across threads.

``functools.lru_cache`` does not hold a lock while the function runs: two Streamlit sessions (or a
session and the background warm-up, :mod:`medviz.text.clinical.warm`) asking for a reader at once would
each build one (seconds of CPU, twice). :func:`build_once` holds a lock around the build: the first caller
builds, the others wait for that same object. Hand-written because the standard library has no
thread-safe once-cache for a zero-argument builder (``functools.cache`` has the same race).
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def build_once(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn()`` computed once per process, however many threads call at once (the others wait for it).

    An exception is not cached: the next call builds again. ``.built()`` says whether it is built;
    ``.cache_clear()`` forgets it (tests).
    """
    lock = threading.Lock()
    box: list[T] = []

    @functools.wraps(fn)
    def wrapper() -> T:
        if box:  # built: no lock on the hot path (a list append is atomic under the GIL)
            return box[0]
        with lock:
            if not box:
                box.append(fn())
        return box[0]

    def cache_clear() -> None:
        with lock:
            box.clear()

    wrapper.built = lambda: bool(box)  # type: ignore[attr-defined]
    wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
    return wrapper
