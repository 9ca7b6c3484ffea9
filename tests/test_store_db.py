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
    assert current_revision(db_engine) == head_revision() == "0002"
    assert audit.verify(db_engine).ok


def test_existing_database_upgrades_in_place(db_url):
    """A database left at revision 0001 (accounts + audit only) with data in it gains the case tables and
    keeps its users and its verifiable audit chain."""
    old = create_store_engine(db_url, migrate=False)
    db.upgrade(old, "0001")
    assert current_revision(old) == "0001"
    assert "cases" not in inspect(old).get_table_names()
    auth.create_user(old, "early-user", "an old but long password", "admin")
    for i in range(3):
        audit.record(old, "prediction", username="early-user", role="admin", input_obj=f"case {i}")
    old.dispose()

    engine = create_store_engine(db_url)  # what the app does on start
    assert current_revision(engine) == "0002"
    assert "cases" in inspect(engine).get_table_names()
    assert auth.authenticate(engine, "early-user", "an old but long password").role == "admin"
    result = audit.verify(engine)
    assert result.ok and result.records == 3
    create_store_engine(db_url).dispose()  # starting again is a no-op
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
    engine.dispose()
