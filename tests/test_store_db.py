"""Engine creation, SQLite settings and in-place Alembic upgrades, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import inspect, text

from medviz import audit, auth
from medviz.store import db
from medviz.store.db import StoreError, create_store_engine, current_revision, head_revision


def test_default_sqlite_file_created_private_in_wal_mode(medviz_db):
    assert not medviz_db.exists()
    engine = db.get_engine()
    assert medviz_db.exists()
    assert stat.S_IMODE(os.stat(medviz_db).st_mode) == 0o600
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert current_revision(engine) == head_revision()
    assert db.get_engine() is engine  # one engine per URL per process


def test_database_url_prefers_explicit_url(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDVIZ_DB_PATH", str(tmp_path / "a.db"))
    assert db.database_url() == f"sqlite:///{tmp_path / 'a.db'}"
    monkeypatch.setenv("MEDVIZ_DATABASE_URL", "postgresql+psycopg://u:secret@h/db")
    assert db.database_url() == "postgresql+psycopg://u:secret@h/db"
    assert "secret" not in db.describe_url(db.database_url())


def test_bad_url_and_unreachable_server_give_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="not a valid database URL"):
        create_store_engine("not a url at all")
    with pytest.raises(StoreError, match=r"cannot open the database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x") as exc:
        create_store_engine("postgresql+psycopg://u:hunter2@127.0.0.1:1/x")
    assert "hunter2" not in str(exc.value)


def test_fresh_database_has_every_table(db_engine):
    names = set(inspect(db_engine).get_table_names())
    assert {"users", "audit_log", "audit_head", "cases", "outcomes", "alembic_version"} <= names
    assert current_revision(db_engine) == head_revision() == "0005"
    assert audit.verify(db_engine).ok


def _legacy_records(engine, n: int) -> None:
    """Audit records as revisions 0001/0002 wrote them: a keyless SHA-256 chain."""
    prev = "0" * 64
    with engine.begin() as conn:
        for i in range(1, n + 1):
            row = {"seq": i, "ts": f"2026-11-28T10:00:0{i}.000000Z", "username": "early-user", "role": "admin",
                   "action": "prediction", "session_id": None, "case_id": None, "model_name": None,
                   "model_version": None, "model_sha256": None, "input_hash": audit.input_hash(f"case {i}"),
                   "output_summary": "", "warnings": "[]", "prev_hash": prev}
            row["record_hash"] = prev = audit.legacy_hash(row)
            conn.execute(text("INSERT INTO audit_log VALUES (:seq, :ts, :username, :role, :action, :session_id, :case_id, "
                              ":model_name, :model_version, :model_sha256, :input_hash, :output_summary, :warnings, "
                              ":prev_hash, :record_hash)"), row)
        conn.execute(text("UPDATE audit_head SET seq = :s, record_hash = :h"), {"s": n, "h": prev})


def test_existing_database_upgrades_in_place(db_url):
    """A database left at revision 0001 (accounts + a keyless SHA-256 audit chain) gains the case tables,
    keeps its users, and its trail is re-sealed under the audit key — verifiable, with a record saying so."""
    old = create_store_engine(db_url, migrate=False)
    db.upgrade(old, "0001")
    assert current_revision(old) == "0001"
    assert "cases" not in inspect(old).get_table_names()
    auth.create_user(old, "early-user", "an old but long password", "admin")
    _legacy_records(old, 3)
    old.dispose()

    engine = create_store_engine(db_url)  # what the app does on start
    assert current_revision(engine) == "0005"
    assert "cases" in inspect(engine).get_table_names()
    assert auth.authenticate(engine, "early-user", "an old but long password").role == "admin"
    audit.record(engine, "login", username="early-user", role="admin")  # exports the head
    result = audit.verify(engine)
    assert result.ok, result.message()
    assert result.records == 5
    resealed = audit.query(engine, actions=["audit_resealed"]).iloc[0]
    assert resealed["output_summary"] == ("3 record(s) re-sealed with HMAC-SHA256 under the audit key; "
                                          "legacy SHA-256 chain intact")
    create_store_engine(db_url).dispose()  # starting again is a no-op
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
    assert audit.verify(engine).records == 5
    engine.dispose()


def test_a_broken_legacy_chain_is_resealed_and_the_finding_kept(db_url):
    old = create_store_engine(db_url, migrate=False)
    db.upgrade(old, "0002")
    _legacy_records(old, 4)
    with old.begin() as conn:
        conn.execute(text("UPDATE audit_log SET username = 'someone-else' WHERE seq = 2"))
    old.dispose()
    engine = create_store_engine(db_url)
    summary = audit.query(engine, actions=["audit_resealed"]).iloc[0]["output_summary"]
    assert summary.endswith("legacy SHA-256 chain was already broken at #2")
    engine.dispose()


def test_settings_file_and_environment_choose_the_database(tmp_path, monkeypatch):
    """One configuration: medviz.toml in the data folder (or MEDVIZ_CONFIG), environment variables win."""
    from medviz.config import ConfigError, settings

    monkeypatch.delenv("MEDVIZ_DB_PATH")
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("MEDVIZ_DATA_DIR", str(data))
    assert db.database_url() == f"sqlite:///{data / 'medviz.db'}"
    (data / "medviz.toml").write_text('db_path = "cases/x.db"\nidle_minutes = 5\n')
    assert db.database_url() == f"sqlite:///{data / 'cases' / 'x.db'}"  # relative to the file
    assert settings().idle_minutes == 5 == auth.idle_minutes()
    monkeypatch.setenv("MEDVIZ_IDLE_MINUTES", "7")
    assert auth.idle_minutes() == 7
    other = tmp_path / "elsewhere.toml"
    other.write_text('database_url = "postgresql+psycopg://u:pw@h/db"\n')
    monkeypatch.setenv("MEDVIZ_CONFIG", str(other))
    assert db.database_url() == "postgresql+psycopg://u:pw@h/db"
    other.write_text('idle_minute = 3\n')
    with pytest.raises(ConfigError, match="unknown setting 'idle_minute'"):
        settings()
    monkeypatch.delenv("MEDVIZ_IDLE_MINUTES")
    other.write_text('idle_minutes = -1\n')
    with pytest.raises(ConfigError, match=r"setting 'idle_minutes' \(MEDVIZ_IDLE_MINUTES or 'idle_minutes' in .*greater than 0"):
        settings()
    monkeypatch.setenv("MEDVIZ_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        settings()


def test_cli_says_which_database_it_uses(monkeypatch, capsys, medviz_db):
    from medviz.cli import main as cli_main

    assert cli_main(["users", "list"]) == 0
    err = capsys.readouterr().err
    assert f"database: sqlite:///{medviz_db}" in err and "medviz.toml" in err
    assert cli_main(["audit", "verify"]) == 0
    assert f"database: sqlite:///{medviz_db}" in capsys.readouterr().err
