"""Engine creation, connection settings and schema migrations.

* Settings come from :mod:`medviz.config` (settings file + ``MEDVIZ_*`` environment variables), shared
  by the dashboard and the CLI.
* Default: an SQLite file ``medviz.db`` in the data folder (``data/`` in the checkout; ``db_path`` /
  ``MEDVIZ_DB_PATH`` moves it),
  created on first use, WAL journal, ``synchronous=NORMAL`` (a crashed or killed process never loses a
  committed transaction; a power cut can lose the last few but never corrupts the file).
* ``database_url`` / ``MEDVIZ_DATABASE_URL`` (e.g. ``postgresql+psycopg://user@host/db``) selects any other database.
* The schema is versioned with Alembic (``medviz/store/migrations``); :func:`get_engine` upgrades an
  existing database to the newest revision in place before handing the engine out, under a lock so two
  processes starting together do not both migrate.

Write transactions that must be serialized (the audit chain) use :func:`serialized_transaction`:
``BEGIN IMMEDIATE`` on SQLite, a row lock (``SELECT ... FOR UPDATE``) taken by the caller on PostgreSQL.
"""
from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from medviz.errors import MedvizError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_BEGIN_OPTION = "medviz_sqlite_begin"
# Arbitrary constant identifying medviz's migration lock among PostgreSQL advisory locks.
_PG_MIGRATION_LOCK = 7_340_331_207

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


class StoreError(MedvizError):
    """The database cannot be opened, migrated or written."""


def database_url() -> str:
    """The configured database URL: setting ``database_url``, else the SQLite file ``db_path``
    (default ``<data_dir>/medviz.db``). Raises :class:`medviz.config.ConfigError` for a bad setting."""
    from medviz.config import settings

    cfg = settings()
    url = cfg.database_url.strip()
    if url:
        return url
    return f"sqlite:///{cfg.sqlite_path.resolve()}"


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: say nothing that might hold a secret
        return "<unparseable database URL>"


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _prepare_sqlite_file(url: str) -> None:
    db = make_url(url).database
    if not db or db == ":memory:":
        return
    path = Path(db)
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if not path.exists():
        # Create it private to this user before SQLite does (it holds case text and the audit trail).
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised through every test
        # Take transaction control away from the sqlite3 module so BEGIN is ours (SQLAlchemy recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_store_engine(url: str | None = None, *, migrate: bool = True) -> Engine:
    """A new engine for ``url`` (default: :func:`database_url`), migrated to the newest schema."""
    url = url or database_url()
    try:
        parsed = make_url(url)
    except Exception:
        raise StoreError("MEDVIZ_DATABASE_URL is not a valid database URL (expected e.g. postgresql+psycopg://user@host/db)") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            _prepare_sqlite_file(url)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            _install_sqlite_hooks(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        if migrate:
            upgrade(engine)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open the database {describe_url(url)}: {type(exc).__name__}: {_first_line(exc)}") from None
    return engine


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for ``url`` (default from the environment), created and migrated once."""
    url = url or database_url()
    with _engines_lock:
        eng = _engines.get(url)
        if eng is None:
            eng = create_store_engine(url)
            _engines[url] = eng
        return eng


def dispose_engines() -> None:
    """Close every cached engine (tests switch databases between cases)."""
    with _engines_lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()


@contextmanager
def serialized_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction that excludes other writers from the start on SQLite (BEGIN IMMEDIATE).

    On PostgreSQL the caller takes a row lock (``SELECT ... FOR UPDATE``) as its first statement.
    Commits on normal exit, rolls back on an exception.
    """
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn = conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction, holding a lock against concurrent migrators."""
    from alembic import command

    cfg = _alembic_config()
    with serialized_transaction(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(_alembic_config()).get_current_head())
