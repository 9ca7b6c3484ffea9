"""Per-account preferences kept with the account: the interface language (``users.language``).

Stored in the database (not the browser), so a user's choice survives sign-out, another browser and
another machine. ``None`` means "not chosen": the interface then uses English (medviz.i18n).
"""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from medviz.i18n import check_language
from medviz.store.models import User as UserRow


def get_language(engine: Engine, user_id: int) -> str | None:
    """The account's stored language code, or None (not chosen, or no such account)."""
    with engine.connect() as conn:
        code = conn.execute(select(UserRow.language).where(UserRow.id == user_id)).scalar_one_or_none()
    return code


def set_language(engine: Engine, user_id: int, code: str) -> None:
    """Store ``code`` (one of ``medviz.i18n.LANGUAGES``; else :class:`medviz.i18n.LanguageError`)."""
    check_language(code)
    with engine.begin() as conn:
        conn.execute(update(UserRow).where(UserRow.id == user_id).values(language=code))
