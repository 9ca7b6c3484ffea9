"""Storage: SQLAlchemy models, engine creation (SQLite by default, PostgreSQL by URL), Alembic migrations,
case history, encryption at rest and live monitoring. See docs/ARCHITECTURE.md, "Accounts, audit and storage"."""
from medviz.store.db import StoreError, database_url, dispose_engines, get_engine

__all__ = ["StoreError", "database_url", "dispose_engines", "get_engine"]
