"""The few statements that differ between SQLite and PostgreSQL.

Both speak ``INSERT ... ON CONFLICT`` and ``RETURNING``; SQLAlchemy just needs the
dialect's own ``insert`` to build them.

    stmt = upsert_insert(session, Event).values(...).on_conflict_do_nothing()
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_for_dialect(dialect: str, table: Any) -> Any:
    """An ``INSERT`` for ``table`` that offers ``on_conflict_do_nothing/do_update``."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def upsert_insert(session: Session, table: Any) -> Any:
    return insert_for_dialect(dialect_name(session), table)
