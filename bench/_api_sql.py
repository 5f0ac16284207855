"""What SQL a request sends, and how the database plans it: evidence for a slow route.

>>> log = StatementLog(db)                                  # doctest: +SKIP
>>> with log.recording() as seen:                           # doctest: +SKIP
...     client.get("/api/fleet")
>>> explain(db, *seen[0])                                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from hub.storage import Database


class StatementLog:
    """Statements sent on the database's engine while recording (any thread: the bench
    sends one request at a time, so what is recorded is that request's)."""

    def __init__(self, db: Database) -> None:
        self._engine = db.engine
        self._seen: list[tuple[str, Any]] | None = None
        event.listen(self._engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self._seen is not None:
            self._seen.append((statement, params))

    @contextmanager
    def recording(self) -> Iterator[list[tuple[str, Any]]]:
        self._seen = seen = []
        try:
            yield seen
        finally:
            self._seen = None

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._on_execute)


def explain(db: Database, statement: str, params: Any) -> list[str]:
    """The plan of one recorded statement with its recorded parameters."""
    if not statement.lstrip().upper().startswith("SELECT"):
        return []  # BEGIN, PRAGMA, the odd write: nothing to plan
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + statement, params)
        rows = cursor.fetchall()
    finally:
        raw.rollback()
        raw.close()
    if db.dialect == "sqlite":  # (id, parent, notused, detail)
        return [str(r[-1]) for r in rows]
    return [str(r[0]) for r in rows]
