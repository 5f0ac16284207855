"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from hub.storage import Database
from hub.storage.models import Base


def test_upgrade_from_empty_matches_the_models(database: Database) -> None:
    assert database.current_revision() == database.head_revision()
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_schema_is_current(database: Database) -> None:
    database.upgrade()
    database.require_current_schema()
    with database.read_session() as s:
        head = s.execute(text("SELECT seq, hash FROM audit_head")).one()
    assert (head.seq, head.hash) == (0, "0" * 64)


def test_sqlite_runs_wal_full_sync_with_foreign_keys(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("SQLite pragmas only")
    with database.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    # synchronous 2 is FULL
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 15_000,
    }
