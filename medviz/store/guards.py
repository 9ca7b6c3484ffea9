"""Database triggers that make the audit trail append-only at the database itself.

``audit_log`` refuses UPDATE and DELETE (and, on PostgreSQL, TRUNCATE, which bypasses row triggers);
``audit_head`` refuses DELETE (it must still move forward on every append, so UPDATE stays allowed —
a moved head is caught by the exported chain head, see :mod:`medviz.audit`).

Installed by migration ``0004``. The statements are kept here so tests and :func:`medviz.audit.verify`
share them; changing them needs a new migration.
"""
from __future__ import annotations

from sqlalchemy import Connection, text

MESSAGE = "medviz audit records are append-only"

_SQLITE = {
    "audit_log_no_update": f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                           f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END",
    "audit_log_no_delete": f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                           f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END",
    "audit_head_no_delete": f"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
                            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END",
}

# '%%': psycopg reads '%' as a placeholder even without parameters; the server receives '%'.
_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION medviz_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{MESSAGE}: %% refused on %%', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$"""
_PG = {
    "audit_log_no_update_delete": "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
                                  "FOR EACH ROW EXECUTE FUNCTION medviz_audit_append_only()",
    "audit_log_no_truncate": "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                             "FOR EACH STATEMENT EXECUTE FUNCTION medviz_audit_append_only()",
    "audit_head_no_delete": "CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head "
                            "FOR EACH STATEMENT EXECUTE FUNCTION medviz_audit_append_only()",
}
_PG_TABLE = {"audit_log_no_update_delete": "audit_log", "audit_log_no_truncate": "audit_log",
             "audit_head_no_delete": "audit_head"}


def trigger_names(conn: Connection) -> tuple[str, ...]:
    return tuple(_SQLITE if conn.dialect.name == "sqlite" else _PG)


def create_append_only_triggers(conn: Connection) -> None:
    """Install the triggers (idempotent: existing ones are replaced)."""
    drop_append_only_triggers(conn)
    if conn.dialect.name == "sqlite":
        for ddl in _SQLITE.values():
            conn.exec_driver_sql(ddl)
    else:
        conn.exec_driver_sql(_PG_FUNCTION)
        for ddl in _PG.values():
            conn.exec_driver_sql(ddl)


def drop_append_only_triggers(conn: Connection) -> None:
    """Remove the triggers (downgrade; tests that simulate an attacker with DDL rights)."""
    if conn.dialect.name == "sqlite":
        for name in _SQLITE:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, table in _PG_TABLE.items():
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")


def missing_triggers(conn: Connection) -> list[str]:
    """Names of the append-only triggers that are not installed (empty = all present)."""
    if conn.dialect.name == "sqlite":
        present = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        return [n for n in _SQLITE if n not in present]
    present = set(conn.execute(text(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
    )).scalars())
    return [n for n in _PG if n not in present]
