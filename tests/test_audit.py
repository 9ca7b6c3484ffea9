"""The hash-chained audit trail: tamper detection, concurrent writers, SIGKILL mid-batch; both databases."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from medviz import audit
from medviz.cli import main as cli_main
from medviz.config import ConfigError
from medviz.errors import InputError
from medviz.store import get_engine, guards
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


# --- the nine tampering cases ------------------------------------------------------------------------
# Each simulates someone with full SQL rights on the database (they can drop the append-only triggers,
# and put them back afterwards) but without the audit key or write access to the exported head file —
# except "fork", whose attacker also holds the key. Each must be detected by `audit verify`.

def _row(conn, seq):
    return dict(conn.execute(select(AuditRecord.__table__).where(AuditRecord.seq == seq)).mappings().one())


def _set_head(conn, seq, digest):
    conn.execute(text("UPDATE audit_head SET seq = :s, record_hash = :h WHERE id = 1"), {"s": seq, "h": digest})


def _edit(conn):
    conn.execute(text("UPDATE audit_log SET output_summary = 'top-3: nothing to see' WHERE seq = 4"))


def _delete_last(conn):
    conn.execute(text("DELETE FROM audit_log WHERE seq = 10"))


def _delete_middle(conn):
    conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))


def _truncate_and_move_head(conn):
    conn.execute(text("DELETE FROM audit_log WHERE seq >= 8"))
    _set_head(conn, 7, _row(conn, 7)["record_hash"])


def _wipe(conn):
    conn.execute(text("DELETE FROM audit_log"))
    _set_head(conn, 0, "0" * 64)


def _rehash(conn):
    """Edit #6, then recompute every hash from there on as the keyless chain did (SHA-256)."""
    rows = [_row(conn, s) for s in range(6, 11)]
    rows[0]["username"] = "someone-else"
    prev = _row(conn, 5)["record_hash"]
    conn.execute(text("DELETE FROM audit_log WHERE seq >= 6"))
    for r in rows:
        r["prev_hash"] = prev
        r["record_hash"] = prev = audit.legacy_hash(r)
    conn.execute(insert(AuditRecord), rows)
    _set_head(conn, 10, prev)


def _forge_append(conn):
    last = _row(conn, 10)
    forged = {**last, "seq": 11, "username": "ghost", "action": "export", "prev_hash": last["record_hash"]}
    forged["record_hash"] = audit.legacy_hash(forged)
    conn.execute(insert(AuditRecord), [forged])
    _set_head(conn, 11, forged["record_hash"])


def _reorder(conn):
    conn.execute(text("UPDATE audit_log SET seq = -1 WHERE seq = 3"))
    conn.execute(text("UPDATE audit_log SET seq = 3 WHERE seq = 4"))
    conn.execute(text("UPDATE audit_log SET seq = 4 WHERE seq = -1"))


def _fork(conn):
    """With the key: cut the trail after #7 and write a different, perfectly chained #8-#11."""
    conn.execute(text("DELETE FROM audit_log WHERE seq >= 8"))
    _set_head(conn, 7, _row(conn, 7)["record_hash"])
    audit.append_locked(conn, [audit.AuditEvent.build("prediction", username="dr-a", role="clinician",
                                                      output_summary=f"rewritten {i}") for i in range(4)],
                        audit.audit_key())


TAMPERING = [
    (_edit, 4, "HMAC does not match"),
    (_delete_last, 10, "deleted from the end"),
    (_delete_middle, 6, "#5 before it are missing"),
    (_truncate_and_move_head, 8, "truncated or wiped"),
    (_wipe, 1, "truncated or wiped"),
    (_rehash, 6, "HMAC does not match"),
    (_forge_append, 11, "HMAC does not match"),
    (_reorder, 3, "prev_hash"),
    (_fork, 8, "a fork"),
]


@pytest.mark.parametrize("tamper, bad_seq, words", TAMPERING, ids=[t[0].__name__.strip("_") for t in TAMPERING])
def test_every_tampering_case_is_detected(db_engine, tamper, bad_seq, words):
    _fill(db_engine, 10)
    assert audit.verify(db_engine).ok
    with db_engine.begin() as conn:
        guards.drop_append_only_triggers(conn)
        tamper(conn)
        guards.create_append_only_triggers(conn)
    result = audit.verify(db_engine)
    assert not result.ok
    assert result.first_bad_seq == bad_seq, result.message()
    assert words in result.problem, result.message()
    assert f"record #{bad_seq}" in result.message()


def test_triggers_refuse_update_delete_and_their_removal_is_reported(db_engine):
    _fill(db_engine, 3)
    statements = ["UPDATE audit_log SET username = 'x' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3",
                  "DELETE FROM audit_log", "DELETE FROM audit_head"]
    if db_engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_log")
    for sql in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            with db_engine.begin() as conn:
                conn.execute(text(sql))
    result = audit.verify(db_engine)
    assert result.ok and result.records == 3
    with db_engine.begin() as conn:
        guards.drop_append_only_triggers(conn)
    result = audit.verify(db_engine)
    assert not result.ok and "triggers that refuse UPDATE/DELETE" in result.problem


def test_head_file_is_checked(db_engine, tmp_path):
    _fill(db_engine, 4)
    path = audit.head_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[-1].split()[2:4] == [str(4), audit.head(db_engine)[1]]
    # A line not signed with the key (someone edits the file to match a rewritten trail).
    bad = lines[-1].split()
    bad[-1] = "0" * 32
    path.write_text("\n".join(lines + [" ".join(bad)]) + "\n")
    result = audit.verify(db_engine)
    assert not result.ok and "line 5 of the head file" in result.problem
    # The file belongs to another trail: this database was replaced.
    other = tmp_path / "other.log"
    audit.export_head("feedfeedfeedfeed", 1, "ab" * 32, path=other)
    result = audit.verify(db_engine, head_path=other)
    assert not result.ok and "belongs to another audit trail" in result.problem
    # Records but no exported head at all (the file was removed or replaced by an empty one).
    result = audit.verify(db_engine, head_path=tmp_path / "empty.log")
    assert not result.ok and "no chain head of this trail was ever exported" in result.problem
    # A half-written last line (writer stopped mid-line) is ignored.
    path.write_text("\n".join(lines) + "\n" + lines[-1][:20])
    assert audit.verify(db_engine).ok


def test_audit_key_is_generated_private_or_taken_from_the_environment(monkeypatch, medviz_db):
    engine = get_engine()
    _fill(engine, 2)
    key_file = medviz_db.parent / "audit.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(bytes.fromhex(key_file.read_text().strip())) == 32
    assert audit.verify(engine).ok
    # Another key cannot verify the trail: every record looks forged.
    monkeypatch.setenv("MEDVIZ_AUDIT_KEY", "ab" * 32)
    result = audit.verify(engine)
    assert not result.ok and "line 1 of the head file" in result.problem
    monkeypatch.setenv("MEDVIZ_AUDIT_KEY", "abcd")
    with pytest.raises(ConfigError, match="at least 32"):
        audit.verify(engine)
    monkeypatch.delenv("MEDVIZ_AUDIT_KEY")
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match="readable by other users"):
        audit.verify(engine)


def test_cli_verify_exit_codes(capsys):
    engine = get_engine()
    _fill(engine, 5)
    assert cli_main(["audit", "verify"]) == 0
    assert "intact: 5 record(s)" in capsys.readouterr().out
    with engine.begin() as conn:
        guards.drop_append_only_triggers(conn)
        _edit(conn)
        guards.create_append_only_triggers(conn)
    assert cli_main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("database: sqlite:///")
    assert err.splitlines()[1].startswith("warning: the audit key file")  # the default key sits beside the database
    assert err.splitlines()[2].startswith("error: audit trail BROKEN at record #4")


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
