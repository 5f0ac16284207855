"""SQLite writers in one hub process take turns on the hub's own lock.

SQLite's busy handler sleeps 1, 2, 5, 10 ms... between tries, so a writer that finds
the lock taken loses milliseconds after it is free. The hub's writers queue on an
in-process lock first and never need that handler: with SQLite's busy timeout at 0, a
writer that reached SQLite's lock while another held it would fail at once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text

from hub.errors import DatabaseUnavailable
from hub.storage.database import Database


def _without_sqlite_busy_wait(db: Database) -> Database:
    @event.listens_for(db.engine, "connect")
    def _no_wait(dbapi_conn: object, _record: object) -> None:  # after the hub's own
        dbapi_conn.execute("PRAGMA busy_timeout=0")  # type: ignore[attr-defined]

    return db


def test_concurrent_writers_in_one_process_never_meet_sqlite_busy(tmp_path: Path) -> None:
    db = _without_sqlite_busy_wait(Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}"))
    with db.session() as s:
        s.execute(text("CREATE TABLE t (writer INTEGER, n INTEGER)"))
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(i: int) -> None:
        start.wait()
        try:
            for n in range(40):
                with db.session() as s:
                    s.execute(text("INSERT INTO t VALUES (:w, :n)"), {"w": i, "n": n})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with db.read_session() as s:
        assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 6 * 40
    db.dispose()


def test_a_nested_write_session_in_one_thread_still_reaches_sqlite(tmp_path: Path) -> None:
    # Reentrant turn: nesting does not deadlock on the hub's lock; SQLite itself refuses
    # the second writer (busy timeout 0), as it did before the turn existed.
    db = _without_sqlite_busy_wait(Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}"))
    with db.session() as s:
        s.execute(text("CREATE TABLE t (n INTEGER)"))
    errors: list[Exception] = []
    with db.session() as outer:
        outer.execute(text("INSERT INTO t VALUES (1)"))
        try:
            with db.session() as inner:
                inner.execute(text("INSERT INTO t VALUES (2)"))
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 1
    assert "locked" in str(errors[0])
    db.dispose()


def test_a_writer_held_too_long_gives_the_next_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    # As SQLite's own lock did: after the busy timeout the waiting writer is told why.
    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}", busy_timeout_ms=200)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.session():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    try:
        with (
            pytest.raises(DatabaseUnavailable, match=r"held the database for over 0\.2 s"),
            db.session(),
        ):
            pass
    finally:
        release.set()
        holder.join(10)
    with db.session():  # the turn is free again
        pass
    db.dispose()
