"""A text scorer's ``prepare`` (input checks, the bundle's preprocessing, the knowledge-base expert's
reading) in a worker process, for ``score_csv``.

Why a process: ``prepare`` is pure Python (regular expressions, dict lookups, medspaCy for clinical
bundles) and holds the GIL, so in a thread it cannot run beside the scoring and writing threads'
Python work however many cores there are; the model itself releases the GIL. With 801 classes it is
~50 ms of every 1,000 rows' ~150 ms of GIL-bound work (benchmarks/differential.py stage breakdown).
The standard library's ``ProcessPoolExecutor`` does the process work; this module only decides when
to use it and how to fall back.

The worker is started with ``spawn`` (a fresh interpreter: forking a process whose TensorFlow threads
are running is unsafe) and imports no TensorFlow (medviz.text.analyse and the expert are TensorFlow-free),
so it is ready in ~1-2 s. It starts when a second chunk arrives or when the first chunk is a full
``chunksize`` (more are likely to follow) — a shorter one-chunk file is prepared in process as before.
A full first chunk waits for the warm-up (up to ``FIRST_CHUNK_WAIT_S``), so that this process never
builds the phrase rules the worker builds anyway; after it, until the worker answers its warm-up,
chunks are prepared in process, so a file never waits for it. A worker that cannot start (e.g. inside a daemonic Dask worker process) or
dies leaves every later chunk to the in-process path: same function, same numbers
(tests/io/test_prepare_process.py). Patient text goes to the worker through a pipe, never a file.
"""
from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import SimpleNamespace
from typing import Any

log = logging.getLogger(__name__)

# how long a full first chunk waits for the worker's warm-up before it is prepared in process instead (the warm-up
# takes ~1-3 s; a worker much slower than that is starved or stuck, and the in-process path does not wait for it)
FIRST_CHUNK_WAIT_S = 30.0
_STATE: dict[str, Any] = {}  # in the worker: the scorer's safety config and the bundle's manifest and folder


def _init(manifest: dict, path: str, text_column: str) -> None:
    from medviz.text.safety import SafetyConfig

    _STATE["cfg"] = SafetyConfig.from_manifest(manifest)
    _STATE["bundle"] = SimpleNamespace(manifest=manifest, path=Path(path))  # what the expert reads of a bundle
    _STATE["text_column"] = text_column


def _warm_up() -> bool:
    """Imports and loads what ``_prepare`` needs (the expert's tables), so the first chunk does not."""
    from medviz.text.synth.bayes import expert_for

    import medviz.text.analyse  # noqa: F401
    from medviz.text.red_flags import load_red_flags

    found = expert_for(_STATE["bundle"])
    rules = getattr(found[0], "_phrase_rules", None) if found is not None else None
    flags = load_red_flags()
    labels = {str(lab).casefold() for lab in _STATE["bundle"].manifest.get("labels") or ()}
    # the expert's spaCy phrase rules (medspaCy import and pipeline: ~3 CPU s) and the red flags' matchers (~2.5 CPU
    # s, for a bundle with a flagged condition) are built beside the first chunks rather than before the worker says
    # it is ready or on the first text that needs them
    warm = [r.warm_up for r in (rules,) if r is not None] + ([flags.warm_up] if not flags.conditions.isdisjoint(labels) else [])
    if warm:
        import threading

        threading.Thread(target=lambda: [w() for w in warm], name="medviz-phrase-rules", daemon=True).start()
    return True


def _prepare(texts: list) -> tuple:
    """In the worker: ``(Prepared without expert_log, ExpertReading or None)`` of one chunk's texts."""
    from medviz.text.analyse import prepare
    from medviz.text.synth.bayes import expert_reading

    prepared = prepare(_STATE["cfg"], texts, labels=_STATE["bundle"].manifest.get("labels"))
    return prepared, expert_reading(_STATE["bundle"], [t for t, e in zip(prepared.texts, prepared.errors) if e is None],
                                    findings=True)


class PrepareProcess:
    """One worker process preparing a text scorer's chunks. ``submit(chunk)`` gives a Future when the
    worker is ready, else None (the caller prepares in process); :meth:`result` turns either into the
    scorer's ``Prepared``; :meth:`close` stops the worker."""

    def __init__(self, scorer) -> None:
        self.scorer = scorer
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future | None = None
        self._failed = False

    @classmethod
    def for_scorer(cls, scorer, processes: int | None) -> "PrepareProcess | None":
        """A worker for ``scorer`` when it prepares text chunks and ``processes`` is not 0 (None: when
        this machine has at least 2 cores). Raises nothing."""
        import os

        if processes == 0 or not getattr(scorer, "text_column", None) or not hasattr(scorer, "prepare"):
            return None
        if processes is None and ((os.cpu_count() or 1) < 2 or not _main_is_importable()):
            return None
        return cls(scorer)

    @classmethod
    def kept_for(cls, scorer, processes: int | None) -> "PrepareProcess | None":
        """:meth:`for_scorer`, but one worker per scorer, kept between calls (``score_csv`` given a scorer that the
        caller reuses, as for several files): a later file's first chunk goes to a worker that is already warm
        instead of waiting for a new one (spawn, imports, the expert's tables and phrase rules: ~4 CPU s). The
        worker stays with the scorer (``scorer._prepare_process``) and its process stops when the scorer is garbage
        collected (``ProcessPoolExecutor`` shuts its processes down when it is collected) or at exit. A worker that
        died is replaced."""
        if cls.for_scorer(scorer, processes) is None:
            return None
        kept = getattr(scorer, "_prepare_process", None)
        if isinstance(kept, cls) and not kept._failed:
            return kept
        if isinstance(kept, cls):
            kept.close()
        kept = scorer._prepare_process = cls(scorer)
        return kept

    def start(self) -> None:
        """Start the worker (idempotent); a failure to start only disables it."""
        if self._pool is not None or self._failed:
            return
        bundle = self.scorer.bundle
        try:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                initargs=(_plain(bundle.manifest), str(bundle.path), self.scorer.text_column))
            self._ready = self._pool.submit(_warm_up)
        except (OSError, RuntimeError, AssertionError, ValueError) as exc:  # e.g. a daemonic process has no children
            log.info("preparing in process: no worker process (%s)", type(exc).__name__)
            self._failed = True
            self._pool = None

    def first_chunk_waits(self) -> bool:
        """Whether a full first chunk should wait for the worker's warm-up rather than be prepared here: when
        preparing it here would build the spaCy / medspaCy pipeline (``medviz.text.clinical.assertion.pipeline``: the
        expert's phrase rules or the clinical reading, ~2.5 CPU s with spaCy's and lemminflect's imports) that this
        process has not built yet and the worker builds anyway. A process that has built it (e.g. an earlier file
        prepared here) prepares the first chunk at once."""
        from medviz.text.clinical.assertion import pipeline

        if pipeline.built():
            return False
        if getattr(getattr(self.scorer, "safety", None), "preprocessing", None) == "clinical":
            return True
        from medviz.text.synth.bayes import expert_for

        found = expert_for(self.scorer.bundle)
        rules = getattr(found[0], "_phrase_rules", None) if found is not None else None
        return bool(rules is not None and rules.rules)

    def submit(self, chunk, wait: float = 0.0) -> Future | None:
        """The worker's Future for ``chunk`` when it is up (waiting up to ``wait`` seconds for its warm-up when it
        has started), else None (prepare it in process)."""
        if self._pool is None or self._failed or self._ready is None:
            return None
        if wait > 0:
            from concurrent.futures import wait as wait_for

            wait_for([self._ready], timeout=wait)
        if not self._ready.done():
            return None
        if self._ready.exception() is not None:
            self._give_up(self._ready.exception())
            return None
        self.scorer.check_columns(chunk.columns)
        try:
            return self._pool.submit(_prepare, chunk[self.scorer.text_column].tolist())
        except (BrokenProcessPool, RuntimeError) as exc:
            self._give_up(exc)
            return None

    def result(self, prepared, chunk):
        """The scorer's ``Prepared`` for ``chunk`` from a Future (the worker's result with the expert's
        scores computed here), or ``prepared`` itself when it was prepared in process. A worker that
        died is replaced by the in-process path, for this chunk and the rest."""
        if not isinstance(prepared, Future):
            return prepared
        try:
            done, reading = prepared.result()
        except BrokenProcessPool as exc:
            self._give_up(exc)
            return self.scorer.prepare(chunk)
        from medviz.text.analyse import with_reading

        return with_reading(done, self.scorer.bundle, reading)

    def _give_up(self, exc: BaseException) -> None:
        log.warning("the preparing worker process stopped (%s); preparing in process", type(exc).__name__)
        self._failed = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _main_is_importable() -> bool:
    """Whether a spawned worker may import this process's ``__main__`` safely: ``python -m ...`` (spawn
    skips a ``__main__`` module) or an interactive session / notebook (no file). A script run by path is
    re-run as ``__mp_main__`` in the worker, which is only safe behind ``if __name__ == "__main__":``
    (Python's multiprocessing guidelines), which cannot be checked: such callers get the in-process
    path unless they ask for the worker (``prepare_processes=1``)."""
    import sys

    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    return name.endswith("__main__") or getattr(main, "__file__", None) is None


def _plain(value):
    """A manifest (any Mapping / Sequence nesting) as plain dicts and lists, for pickling to the worker."""
    from collections.abc import Mapping

    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
