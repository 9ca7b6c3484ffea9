"""The hash-chained audit trail: tamper detection, concurrent writers, SIGKILL mid-batch; both databases."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import select, text

from medviz import audit
from medviz.cli import main as cli_main
from medviz.errors import InputError
from medviz.store import get_engine
from medviz.store.models import AuditRecord

from tests.conftest import ROOT


def _fill(engine, n=10):
    for i in range(n):
        audit.record(engine, "prediction", username="dr-a", role="clinician", session_id="s1",
                     model=("m", "1.0.0", "ab" * 32), input_obj=f"input {i}", output_summary=f"top-3: x {i}",
                     warnings=["short input"] if i % 2 else [])


def test_records_chain_and_verify(db_engine):
    _fill(db_engine, 10)
    result = audit.verify(db_engine)
    assert result.ok and result.records == 10 and result.head_seq == 10
    df = audit.query(db_engine)
    assert list(df["seq"]) == list(range(10, 0, -1))
    rows = df.sort_values("seq").to_dict("records")
    assert rows[0]["prev_hash"] == "0" * 64
    for a, b in zip(rows, rows[1:]):
        assert b["prev_hash"] == a["record_hash"]
    r = rows[3]
    assert r["ts"].endswith("Z") and r["model_sha256"] == "ab" * 32 and r["warnings"] == '["short input"]'
    assert r["input_hash"] == audit.input_hash("input 3")


def _edit(conn):
    conn.execute(text("UPDATE audit_log SET output_summary = 'top-3: nothing to see' WHERE seq = 4"))


def _delete_middle(conn):
    conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))


def _reorder(conn):
    conn.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = 3"))
    conn.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 4"))
    conn.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = -1"))


def _delete_tail(conn):
    conn.execute(text("DELETE FROM audit_log WHERE seq >= 9"))


def _forge_head(conn):
    conn.execute(text("UPDATE audit_head SET record_hash = :h WHERE id = 1"), {"h": "f" * 64})


def _rehash_edit(conn):
    # An editor who fixes up the edited record's own hash is caught at the next record.
    row = dict(conn.execute(select(AuditRecord.__table__).where(AuditRecord.seq == 6)).mappings().one())
    row["username"] = "someone-else"
    conn.execute(text("UPDATE audit_log SET username = 'someone-else', record_hash = :h WHERE seq = 6"),
                 {"h": audit.compute_hash(row)})


@pytest.mark.parametrize(
    "tamper, bad_seq, words",
    [
        (_edit, 4, "edited"),
        (_delete_middle, 6, "#5 before it are missing"),
        (_reorder, 3, "prev_hash"),
        (_delete_tail, 9, "deleted from the end"),
        (_forge_head, None, "chain head"),
        (_rehash_edit, 7, "prev_hash"),
    ],
    ids=["edit", "delete-middle", "reorder", "delete-tail", "forge-head", "rehash-edit"],
)
def test_verify_names_first_bad_record(db_engine, tamper, bad_seq, words):
    _fill(db_engine, 10)
    with db_engine.begin() as conn:
        tamper(conn)
    result = audit.verify(db_engine)
    assert not result.ok
    assert result.first_bad_seq == bad_seq
    assert words in result.problem
    assert ("record #%d" % bad_seq if bad_seq else "chain head") in result.message()


def test_cli_verify_exit_codes(capsys):
    engine = get_engine()
    _fill(engine, 5)
    assert cli_main(["audit", "verify"]) == 0
    assert "intact: 5 record(s)" in capsys.readouterr().out
    with engine.begin() as conn:
        _edit(conn)
    assert cli_main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: audit trail BROKEN at record #4")


def test_concurrent_threads_lose_nothing(db_engine):
    threads, per_thread = 8, 40
    errors = []

    def work(t):
        try:
            for i in range(per_thread // 4):
                # Mix single appends and atomic batches.
                audit.record(db_engine, "prediction", username=f"u{t}", role="clinician", output_summary=f"t{t}-{i}-a")
                audit.append(db_engine, [audit.AuditEvent.build("batch_upload", username=f"u{t}", role="clinician",
                                                                 output_summary=f"t{t}-{i}-{j}") for j in "bcd"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    result = audit.verify(db_engine)
    assert result.ok, result.message()
    assert result.records == threads * per_thread
    df = audit.query(db_engine, limit=None)
    assert sorted(df["seq"]) == list(range(1, threads * per_thread + 1))
    assert df["output_summary"].nunique() == threads * per_thread


WORKER = textwrap.dedent(
    """
    import sys
    from medviz import audit
    from medviz.store.db import create_store_engine
    engine = create_store_engine(sys.argv[1])
    batch = int(sys.argv[2])
    n = 0
    while True:
        events = [audit.AuditEvent.build("batch_upload", username="worker", role="clinician",
                                         input_obj=f"row {n + i}", output_summary=f"row {n + i}") for i in range(batch)]
        audit.append(engine, events)
        n += batch
        print(n, flush=True)
    """
)


def test_sigkill_mid_batch_leaves_a_valid_chain(db_url, tmp_path):
    from medviz.store.db import create_store_engine

    create_store_engine(db_url).dispose()  # migrate first, so the worker only appends
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    batch = 25
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), db_url, str(batch)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        committed = 0
        deadline = time.monotonic() + 60
        while committed < 20 * batch and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line)
        assert committed >= 20 * batch, "worker did not get going"
        os.kill(proc.pid, signal.SIGKILL)  # lands inside a transaction almost every time
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    engine = create_store_engine(db_url)
    result = audit.verify(engine)
    assert result.ok, result.message()
    assert result.records >= committed
    assert result.records % batch == 0  # whole batches only: nothing half-written
    audit.record(engine, "prediction", username="after", role="clinician")  # and the chain carries on
    assert audit.verify(engine).ok
    engine.dispose()


def test_input_hash_never_stores_input():
    engine = get_engine()
    df = pd.DataFrame({"text": ["CANARY-row-one"], "age": [41]})
    audit.record(engine, "batch_upload", username="u", role="clinician", input_obj=df, output_summary="1 row")
    audit.record(engine, "prediction", username="u", role="clinician", input_obj="CANARY free text")
    stored = audit.query(engine).to_csv()
    assert "CANARY" not in stored
    assert audit.input_hash(df) == audit.input_hash(df.copy())
    assert audit.input_hash(b"abc") == audit.input_hash("abc") == audit.input_hash(memoryview(b"abc"))
    assert audit.input_hash({"b": 1, "a": 2}) == audit.input_hash({"a": 2, "b": 1})
    assert audit.input_hash(None) is None


def test_event_fields_are_cleaned_and_actions_checked():
    ev = audit.AuditEvent.build("export", username="dr\r\nforged line", role="clinician",
                                output_summary="x" * 5000, warnings=["a\nb", "", "c"])
    assert ev.username == "dr forged line"
    assert len(ev.output_summary) == audit.MAX_SUMMARY
    assert ev.warnings == ("a b", "c")
    with pytest.raises(InputError, match="lower_snake_case"):
        audit.AuditEvent.build("DROP TABLE", username="u", role="r")
