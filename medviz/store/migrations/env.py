"""Alembic environment: always run programmatically by medviz.store.db.upgrade with a live connection."""
from alembic import context

from medviz.store.models import Base

conn = context.config.attributes.get("connection")
if conn is None:  # pragma: no cover - the alembic CLI is not how medviz migrates
    raise RuntimeError("run migrations through medviz.store.db.upgrade(engine), which supplies a connection")

# The caller already holds the transaction (and, on PostgreSQL, an advisory lock); the migrations
# run inside it so a failure leaves the old schema untouched.
context.configure(
    connection=conn,
    target_metadata=Base.metadata,
    render_as_batch=conn.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
