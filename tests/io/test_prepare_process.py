"""``prepare`` in a worker process (medviz.scoring.prepare_process): the same Prepared, the same scored file,
and the in-process path whenever the worker is not there (not started, not allowed, dead)."""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from tests.text.test_recalibrate import expert_bundle  # noqa: F401 (fixture: a tiny bundle with an expert)

TEXTS = ["fever and cough for 3 days", "", "A 30-year-old woman with a headache and vomiting", "???",
         "fever and cough for 3 days", "67M pyrexia, no cough", "=HYPERLINK(\"x\") fever", "发热咳嗽三天"]


@pytest.fixture(scope="module")
def scorer(expert_bundle):  # noqa: F811
    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer

    bundle = load_bundle(expert_bundle[0])
    return make_scorer(bundle, text_column="note")


def _ready(worker):
    worker.start()
    assert worker._ready.result(timeout=120) is True
    return worker


def _here_and_there(scorer, chunk):
    """``scorer.prepare(chunk)`` in this process and in a worker."""
    from medviz.scoring.prepare_process import PrepareProcess

    here = scorer.prepare(chunk)
    worker = _ready(PrepareProcess(scorer))
    try:
        there = worker.result(worker.submit(chunk), chunk)
    finally:
        worker.close()
    return here, there


def test_the_worker_prepares_what_the_process_prepares(scorer):
    from medviz.scoring.prepare_process import PrepareProcess

    chunk = pd.DataFrame({"note": TEXTS * 3, "id": range(len(TEXTS) * 3)})
    here = scorer.prepare(chunk)
    worker = _ready(PrepareProcess(scorer))
    try:
        future = worker.submit(chunk)
        assert future is not None
        there = worker.result(future, chunk)
    finally:
        worker.close()
    assert there.texts == here.texts and there.errors == here.errors and there.preprocessed == here.preprocessed
    assert np.array_equal(there.cut_chars, here.cut_chars)
    assert here.expert_log is not None and np.array_equal(there.expert_log, here.expert_log)
    assert there.network_texts == here.network_texts
    assert here.expert_findings is not None and there.expert_findings == here.expert_findings


def test_the_worker_carries_the_network_texts_of_a_denied_not_evidence_bundle(expert_bundle, tmp_path):  # noqa: F811
    import shutil

    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer
    from medviz.scoring.prepare_process import PrepareProcess
    from medviz.text.recalibrate import set_denied_not_evidence

    path = tmp_path / "b"
    shutil.copytree(expert_bundle[0], path)
    set_denied_not_evidence(path, True)
    scorer = make_scorer(load_bundle(path), text_column="note")
    here, there = _here_and_there(scorer, pd.DataFrame({"note": TEXTS, "id": range(len(TEXTS))}))
    assert here.network_texts is not None and there.network_texts == here.network_texts
    assert "67m pyrexia," in here.network_texts and not any("cough" in t for t in here.network_texts if "67m" in t)
    assert np.array_equal(there.expert_log, here.expert_log)


def test_score_csv_with_the_worker_writes_the_same_file(scorer, tmp_path, monkeypatch):
    from medviz.scoring import score_csv
    from medviz.scoring import prepare_process as pp

    rng = np.random.default_rng(0)
    notes = [TEXTS[i] for i in rng.integers(0, len(TEXTS), 300)]
    pd.DataFrame({"note": notes, "id": range(300)}).to_csv(tmp_path / "in.csv", index=False)
    used = []
    submit = pp.PrepareProcess.submit

    def waiting_submit(self, chunk, wait=0.0):  # wait for the worker, so the remote path is exercised for sure
        self._ready is not None and self._ready.result(timeout=120)
        out = submit(self, chunk, wait)
        used.append(out is not None)
        return out

    monkeypatch.setattr(pp.PrepareProcess, "submit", waiting_submit)
    score_csv(scorer.bundle, tmp_path / "in.csv", tmp_path / "worker.csv", scorer=scorer, chunksize=40,
              prepare_processes=1)
    assert used == [True] * 8  # 8 full chunks: every one prepared by the worker (the first waits for it)
    score_csv(scorer.bundle, tmp_path / "in.csv", tmp_path / "here.csv", scorer=scorer, chunksize=40,
              prepare_processes=0)
    assert (tmp_path / "worker.csv").read_bytes() == (tmp_path / "here.csv").read_bytes()


def test_the_worker_starts_at_a_full_first_chunk_and_only_that_chunk_waits_for_it(scorer, tmp_path, monkeypatch):
    """A full first chunk (more likely to follow) starts the worker and waits for its warm-up; a file shorter than one
    chunk never starts it (prepared here, as before); the files are the same either way."""
    from medviz.scoring import score_csv
    from medviz.scoring import prepare_process as pp

    calls, starts = [], []
    submit, start = pp.PrepareProcess.submit, pp.PrepareProcess.start

    def spy_submit(self, chunk, wait=0.0):
        calls.append((len(chunk), wait))
        return submit(self, chunk, wait)

    def spy_start(self):
        starts.append(len(calls))
        return start(self)

    monkeypatch.setattr(pp.PrepareProcess, "submit", spy_submit)
    monkeypatch.setattr(pp.PrepareProcess, "start", spy_start)
    monkeypatch.setattr(pp.PrepareProcess, "first_chunk_waits", lambda self: True)  # (its own test below)
    rng = np.random.default_rng(1)
    pd.DataFrame({"note": [TEXTS[i] for i in rng.integers(0, len(TEXTS), 100)], "id": range(100)}).to_csv(
        tmp_path / "in.csv", index=False)
    score_csv(scorer.bundle, tmp_path / "in.csv", tmp_path / "worker.csv", scorer=scorer, chunksize=40,
              prepare_processes=1)
    assert [n for n, _ in calls] == [40, 40, 20] and starts[0] == 0  # started before the first chunk's submit
    assert calls[0][1] == pp.FIRST_CHUNK_WAIT_S and all(w == 0 for _, w in calls[1:])
    calls.clear(), starts.clear()
    score_csv(scorer.bundle, tmp_path / "in.csv", tmp_path / "one.csv", scorer=scorer, chunksize=200,
              prepare_processes=1)
    assert not starts and [n for n, _ in calls] == [100]  # one short chunk: no new worker process
    score_csv(scorer.bundle, tmp_path / "in.csv", tmp_path / "here.csv", scorer=scorer, chunksize=40,
              prepare_processes=0)
    here = (tmp_path / "here.csv").read_bytes()
    assert (tmp_path / "worker.csv").read_bytes() == here == (tmp_path / "one.csv").read_bytes()


def test_the_first_chunk_waits_only_where_this_process_would_build_the_spacy_pipeline(scorer, tiny_clinical_bundle,
                                                                                     monkeypatch):
    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer
    from medviz.scoring.prepare_process import PrepareProcess
    from medviz.text.clinical import assertion

    clinical = PrepareProcess(make_scorer(load_bundle(tiny_clinical_bundle), text_column="note"))
    monkeypatch.setattr(assertion.pipeline, "built", lambda: False)
    assert clinical.first_chunk_waits()  # the clinical reading would build it here
    assert not PrepareProcess(scorer).first_chunk_waits()  # an expert without phrase rules: nothing to build
    monkeypatch.setattr(assertion.pipeline, "built", lambda: True)
    assert not clinical.first_chunk_waits()  # built here already: the first chunk is prepared at once


def test_a_scorer_passed_in_keeps_its_worker_for_the_next_file(expert_bundle, tmp_path):  # noqa: F811
    """score_csv given a scorer keeps that scorer's worker process (warm) for its next call; one it builds itself
    stops its worker before returning; the files are the same."""
    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer, score_csv

    bundle = load_bundle(expert_bundle[0])
    own = make_scorer(bundle, text_column="note")
    pd.DataFrame({"note": TEXTS * 10, "id": range(len(TEXTS) * 10)}).to_csv(tmp_path / "in.csv", index=False)
    score_csv(bundle, tmp_path / "in.csv", tmp_path / "a.csv", scorer=own, chunksize=20, prepare_processes=1)
    kept = own._prepare_process
    assert kept._pool is not None  # still running after the call
    score_csv(bundle, tmp_path / "in.csv", tmp_path / "b.csv", scorer=own, chunksize=20, prepare_processes=1)
    assert own._prepare_process is kept and kept._ready.result(timeout=120) is True
    kept.close()
    score_csv(bundle, tmp_path / "in.csv", tmp_path / "c.csv", text_column="note", chunksize=20, prepare_processes=1)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes() == (tmp_path / "c.csv").read_bytes()


def test_a_dead_worker_leaves_the_chunks_to_the_process(scorer):
    from medviz.scoring.prepare_process import PrepareProcess

    chunk = pd.DataFrame({"note": TEXTS})
    worker = _ready(PrepareProcess(scorer))
    try:
        for proc in list(worker._pool._processes.values()):
            proc.kill()
            proc.join(30)
        future = worker.submit(chunk)
        got = worker.result(future, chunk) if future is not None else scorer.prepare(chunk)
        assert worker.submit(chunk) is None  # given up: every later chunk is prepared in process
    finally:
        worker.close()
    assert got.errors == scorer.prepare(chunk).errors
    assert np.array_equal(got.expert_log, scorer.prepare(chunk).expert_log)


def test_when_there_is_no_worker(scorer, monkeypatch):
    from medviz.scoring.prepare_process import PrepareProcess

    assert PrepareProcess.for_scorer(scorer, 0) is None
    assert PrepareProcess.for_scorer(object(), None) is None  # not a text scorer
    # a script run by path without a main guard would be re-run in the worker: not by default
    script = type(sys)("__main__")
    script.__file__ = "/somewhere/score_my_file.py"
    script.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", script)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert PrepareProcess.for_scorer(scorer, None) is None
    assert PrepareProcess.for_scorer(scorer, 1) is not None  # asked for explicitly
    module = type(sys)("__main__")
    module.__file__ = "/x/medviz/__main__.py"
    module.__spec__ = type("Spec", (), {"name": "medviz.__main__"})()
    monkeypatch.setitem(sys.modules, "__main__", module)
    assert PrepareProcess.for_scorer(scorer, None) is not None  # python -m medviz
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert PrepareProcess.for_scorer(scorer, None) is None  # one core: nothing to run beside


def test_a_clinical_reading_crosses_to_the_worker_whole(tiny_clinical_bundle):
    """A bundle with the clinical reading (medspaCy assertion status): its typed findings come back equal."""
    from medviz.bundle import load_bundle
    from medviz.scoring import make_scorer
    from medviz.scoring.prepare_process import PrepareProcess

    scorer = make_scorer(load_bundle(tiny_clinical_bundle), text_column="note")
    chunk = pd.DataFrame({"note": ["72M productive cough 2/7, T 39.2, denies CP", "no fever, ? pneumonia",
                                   "mother has asthma; wheeze and SOB", ""]})
    here, there = _here_and_there(scorer, chunk)
    assert there.preprocessed == here.preprocessed and there.errors == here.errors
    assert any(getattr(p, "findings", ()) for p in here.preprocessed if p is not None)  # there was a reading to carry
