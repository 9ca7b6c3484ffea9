"""The clinical readers are built once per process, whoever asks first (issue 14 review, item 7)."""
from __future__ import annotations

import threading

from medviz.text.clinical import warm
from medviz.text.clinical.once import build_once


def test_concurrent_callers_share_one_build():
    entered, release = threading.Event(), threading.Event()
    calls = []

    @build_once
    def reader():
        calls.append(1)
        entered.set()
        release.wait(timeout=30)
        return object()

    got = {}
    a = threading.Thread(target=lambda: got.setdefault("a", reader()))
    a.start()
    assert entered.wait(timeout=30)  # a is building
    b = threading.Thread(target=lambda: got.setdefault("b", reader()))
    b.start()
    b.join(timeout=0.5)  # b waits for a's build (with functools.lru_cache it would build its own)
    release.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert len(calls) == 1 and got["a"] is got["b"] and reader.built()
    reader.cache_clear()
    assert not reader.built()


def test_a_failed_build_is_not_cached():
    outcomes = iter([RuntimeError("broken"), "reader"])

    @build_once
    def reader():
        o = next(outcomes)
        if isinstance(o, Exception):
            raise o
        return o

    try:
        reader()
    except RuntimeError:
        pass
    assert not reader.built() and reader() == "reader"


def test_warm_up_starts_once_per_language(monkeypatch):
    built = []
    monkeypatch.setattr(warm, "_started", set())
    monkeypatch.setattr(warm, "_builder", lambda language: (lambda: built.append(language)))
    first = warm.warm_in_background("zh_CN")
    assert first is not None and first.daemon
    assert warm.warm_in_background("zh_CN") is None  # already started: no second thread
    assert warm.warm_in_background("fr") is None
    first.join(timeout=30)
    assert built == ["zh_CN"]


def test_the_readers_use_the_locked_cache():
    from medviz.text.clinical import assertion, chinese

    assert hasattr(chinese.pipeline, "built") and hasattr(assertion.pipeline, "built")


def test_only_a_chinese_session_warms_the_chinese_reader(monkeypatch):
    from medviz.i18n import use_language
    from medviz.ui import i18n as ui_i18n

    started = []
    monkeypatch.setattr(warm, "warm_in_background", started.append)
    with use_language("en"):
        ui_i18n.warm_reader()
    assert started == []
    with use_language("zh_CN"):
        ui_i18n.warm_reader()
    assert started == ["zh_CN"]
