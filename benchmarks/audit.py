"""Audit trail speed: what recording one prediction adds to a page, and `audit verify` over 100,000 records.

Prints, in one run on the same machine state:
  * record one prediction (build the event, hash the input, serialized append + commit):
    medviz.audit on SQLite (WAL, synchronous=NORMAL, pooled connections) vs a naive baseline
    (ORM Session per record on a rollback-journal SQLite file with synchronous=FULL, reading the previous
    hash with ORDER BY seq DESC LIMIT 1); and on PostgreSQL when MEDVIZ_TEST_POSTGRES_URL is set.
  * verify N records: medviz.audit.verify (one streamed Core query, tuple rows) vs a naive ORM walk
    (load every AuditRecord object, rebuild a dict, hash it).

  * kill -9 trials (issue 17): a writer process appends batches of 1-25 records and prints each
    committed head; it is SIGKILLed at a random moment; then every record it reported committed must
    be present and `verify` (HMAC chain, triggers, exported heads) must pass. Reports records lost
    (target 0) and how far the exported head lagged the database after the kill.

Targets (issue 7): recording <= 5 ms; verify of 100,000 records <= 5 s. Issue 17: 0 lost records in
>= 20 kill -9 trials.

Keys and the head file go to a temporary data folder (MEDVIZ_DATA_DIR), never the checkout's data/.

Usage: python benchmarks/audit.py [--records 100000] [--appends 300] [--kill-trials 20]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sqlalchemy import create_engine, event, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from medviz import audit  # noqa: E402
from medviz.store.db import create_store_engine  # noqa: E402
from medviz.store.models import GENESIS_HASH, AuditRecord, Base  # noqa: E402

CASE = "I have had a high fever, chills and a headache for three days and my joints ache badly"
SUMMARY = "top-3: malaria 0.612 | dengue 0.201 | typhoid 0.090"
MODEL = ("symptom-diagnosis", "1.0.0", "037c5475ce8e096a8ef77db298f42eba46d8aa9c5f4bd51e849c7be1beb1f687")


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:7.2f} ms   p95 {np.percentile(xs, 95) * 1e3:7.2f} ms"


def record_medviz(engine, i: int) -> None:
    audit.record(engine, "prediction", username="dr-bench", role="clinician", session_id="0123456789abcdef",
                 model=MODEL, input_obj=f"{CASE} {i}", output_summary=SUMMARY, warnings=["short input"])


def naive_engine(path: Path):
    eng = create_engine(f"sqlite:///{path}")

    @event.listens_for(eng, "connect")
    def _c(dbapi, _):
        dbapi.execute("PRAGMA journal_mode=DELETE")
        dbapi.execute("PRAGMA synchronous=FULL")

    Base.metadata.create_all(eng, tables=[AuditRecord.__table__])
    return eng


def record_naive(engine, i: int) -> None:
    with Session(engine) as s, s.begin():
        last = s.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)).first()
        row = {
            "seq": (last.seq + 1) if last else 1, "ts": audit.utc_timestamp(), "username": "dr-bench", "role": "clinician",
            "action": "prediction", "session_id": "0123456789abcdef", "case_id": None, "model_name": MODEL[0],
            "model_version": MODEL[1], "model_sha256": MODEL[2],
            "input_hash": hashlib.sha256(f"{CASE} {i}".encode()).hexdigest(), "output_summary": SUMMARY,
            "warnings": json.dumps(["short input"]), "prev_hash": last.record_hash if last else GENESIS_HASH,
        }
        row["record_hash"] = audit.compute_hash(row)
        s.add(AuditRecord(**row))


def time_appends(fn, engine, n: int) -> list[float]:
    for i in range(10):  # warm-up: connections, statement caches
        fn(engine, -i)
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(engine, i)
        out.append(time.perf_counter() - t)
    return out


def fill(engine, n: int) -> None:
    have = audit.count(engine)
    batch = 2000
    while have < n:
        k = min(batch, n - have)
        audit.append(engine, [audit.AuditEvent.build("prediction", username=f"dr-{j % 40}", role="clinician",
                                                     session_id="0123456789abcdef", model=MODEL,
                                                     input_obj=f"{CASE} {have + j}", output_summary=SUMMARY,
                                                     warnings=["short input"] if j % 3 else [])
                              for j in range(k)])
        have += k


def naive_verify(engine) -> bool:
    prev = GENESIS_HASH
    with Session(engine) as s:
        for rec in s.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all():
            row = {f: getattr(rec, f) for f in audit.HASHED_FIELDS}
            if rec.prev_hash != prev or audit.compute_hash(row) != rec.record_hash:
                return False
            prev = rec.record_hash
    return True


def timed(fn, repeats: int) -> tuple[list[float], list[float], object]:
    """Wall-clock and CPU seconds of this process (the CPU figure is what an idle machine would show
    when other jobs compete for the cores)."""
    wall, cpu, result = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu, result


WRITER = textwrap.dedent(
    """
    import random, sys
    from medviz import audit
    from medviz.store.db import create_store_engine
    engine = create_store_engine(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    n = 0
    while True:
        k = rng.randint(1, 25)
        seqs = audit.append(engine, [audit.AuditEvent.build("prediction", username="dr-kill", role="clinician",
                                                            input_obj=f"case {n + i}", output_summary=f"row {n + i}")
                                     for i in range(k)])
        n += k
        print(seqs[-1], flush=True)
    """
)


def kill_trials(url: str, trials: int, workdir: Path, seed: int = 7) -> None:
    """SIGKILL a writer mid-stream ``trials`` times against ``url``; print lost records and head lag."""
    script = workdir / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    rng = random.Random(seed)
    lost_total, lags, failures = 0, [], []
    for t in range(trials):
        proc = subprocess.Popen([sys.executable, str(script), url, str(seed + t)], stdout=subprocess.PIPE, env=env, text=True)
        committed = 0
        deadline = time.monotonic() + rng.uniform(2.0, 5.0)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed = int(line)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        eng = create_store_engine(url)
        res = audit.verify(eng)
        head_seq = audit.head(eng)[0]
        eng.dispose()
        lost_total += max(0, committed - res.records)
        lags.append(head_seq - res.exported_seq)
        if not res.ok:
            failures.append(f"trial {t + 1}: {res.message()}")
    print(f"{trials} trials: {lost_total} committed record(s) lost; verify failed in {len(failures)}; "
          f"exported head behind the database by {min(lags)}-{max(lags)} record(s) after the kill (median "
          f"{statistics.median(lags):g}); trail now {res.records:,} records")
    for f in failures[:5]:
        print("   ", f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--appends", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kill-trials", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="medviz-bench-"))
    os.environ["MEDVIZ_DATA_DIR"] = str(tmp)  # the audit key and head files live here, not in data/
    for var in ("MEDVIZ_CONFIG", "MEDVIZ_AUDIT_KEY", "MEDVIZ_AUDIT_KEY_FILE", "MEDVIZ_AUDIT_HEAD_FILE"):
        os.environ.pop(var, None)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")

    print(f"\n== record one prediction ({args.appends} appends after 10 warm-up) ==")
    eng = create_store_engine(f"sqlite:///{tmp / 'medviz.db'}")
    print(f"medviz, SQLite WAL         {ms(time_appends(record_medviz, eng, args.appends))}")
    naive = naive_engine(tmp / "naive.db")
    print(f"naive ORM, rollback journal {ms(time_appends(record_naive, naive, args.appends))}")
    pg = os.environ.get("MEDVIZ_TEST_POSTGRES_URL")
    pg_db = None
    if pg:  # a fresh database on that server (audit records cannot be deleted: triggers)
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        name = f"medviz_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        pg_db = make_url(pg).set(database=name).render_as_string(hide_password=False)
        os.environ["MEDVIZ_AUDIT_HEAD_FILE"] = str(tmp / "pg-head.log")  # one head file per trail
        peng = create_store_engine(pg_db)
        print(f"medviz, PostgreSQL         {ms(time_appends(record_medviz, peng, args.appends))}")
        peng.dispose()
        os.environ.pop("MEDVIZ_AUDIT_HEAD_FILE")
    else:
        print("PostgreSQL: skipped (set MEDVIZ_TEST_POSTGRES_URL)")

    print(f"\n== verify {args.records:,} records (median of {args.repeats}) ==")
    t = time.perf_counter()
    fill(eng, args.records + args.appends + 10)
    print(f"(filled the trail in {time.perf_counter() - t:.1f} s, batches of 2,000)")
    wall, cpu, res = timed(lambda: audit.verify(eng), args.repeats)
    print(f"medviz verify   wall median {statistics.median(wall):6.2f} s   cpu {statistics.median(cpu):6.2f} s   -> {res.message()}")
    wall, cpu, ok = timed(lambda: naive_verify(eng), 1)
    print(f"naive ORM walk  wall median {statistics.median(wall):6.2f} s   cpu {statistics.median(cpu):6.2f} s   -> {'intact' if ok else 'BROKEN'}")
    eng.dispose()
    naive.dispose()

    if args.kill_trials:
        print(f"\n== kill -9 trials: a writer SIGKILLed at a random moment (2-5 s in), {args.kill_trials} times ==")
        os.environ["MEDVIZ_AUDIT_HEAD_FILE"] = str(tmp / "kill-sqlite-head.log")
        kill_url = f"sqlite:///{tmp / 'kill.db'}"
        create_store_engine(kill_url).dispose()
        print("SQLite:     ", end="", flush=True)
        kill_trials(kill_url, args.kill_trials, tmp)
        if pg_db:
            os.environ["MEDVIZ_AUDIT_HEAD_FILE"] = str(tmp / "pg-head.log")
            print("PostgreSQL: ", end="", flush=True)
            kill_trials(pg_db, args.kill_trials, tmp)
        os.environ.pop("MEDVIZ_AUDIT_HEAD_FILE", None)
    if pg_db:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_db.rsplit("/", 1)[1]}" WITH (FORCE)'))
        admin.dispose()
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
