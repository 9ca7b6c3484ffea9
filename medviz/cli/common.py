"""Exit codes and helpers shared by the commands."""
from __future__ import annotations

import sys

EXIT_USAGE = 2
EXIT_ERROR = 1


def open_store():
    """The configured database's engine, after saying on stderr which database and settings are in use
    (the dashboard reads the same settings: medviz.config)."""
    from medviz.config import describe_sources
    from medviz.store import database_url, get_engine
    from medviz.store.db import describe_url

    print(f"database: {describe_url(database_url())} ({describe_sources()})", file=sys.stderr)
    return get_engine()
