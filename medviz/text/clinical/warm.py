"""Build a clinical reader in the background before the first case needs it (issue 14 review, item 7).

The Chinese reader (spaCy ``zh`` + medspaCy ConText, :func:`medviz.text.clinical.chinese.pipeline`) takes
~5 s to build; built on first use, the first Chinese case after a server start waited that long. Building
every reader at server start (reverted) competed with the first page loads on a small machine, and most
processes never see a Chinese session. So the interface calls :func:`warm_in_background` once a session
*in that language* has rendered a page (app.py): the build starts after that page is on screen, in a
daemon thread, once per process; a case submitted meanwhile waits for the same build (the readers'
:func:`medviz.text.clinical.once.build_once` lock) instead of building a second one.
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_started: set[str] = set()
_lock = threading.Lock()


def _builder(language: str):
    if language == "zh_CN":
        from medviz.text.clinical import chinese

        return chinese.pipeline
    if language == "en":
        from medviz.text.clinical import assertion

        return assertion.pipeline
    return None


def _build(language: str) -> None:
    try:
        builder = _builder(language)
        if builder is not None:
            builder()
    except Exception as exc:  # a broken install shows on the first case, with its own error; never here
        log.warning("warming the %s clinical reader failed: %s", language, type(exc).__name__)
        with _lock:
            _started.discard(language)


def warm_in_background(language: str) -> threading.Thread | None:
    """Start building the clinical reader of ``language`` ("en", "zh_CN") in a daemon thread, once per
    process. Returns the thread, or None when it was already started (or the language has no reader)."""
    if language not in ("en", "zh_CN"):
        return None
    with _lock:
        if language in _started:
            return None
        _started.add(language)
    log.info("building the %s clinical reader in the background", language)
    thread = threading.Thread(target=_build, args=(language,), name="medviz-reader-warm-up", daemon=True)
    thread.start()
    return thread
