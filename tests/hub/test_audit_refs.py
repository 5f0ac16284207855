"""The audit reference index (``audit_refs``): written by the one append, filled by the
migration, read for a home's or a person's entries, and never needed by verification."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from hub.audit import (
    AuditAction,
    NewEntry,
    append,
    append_many,
    device_ref,
    entries,
    entries_naming,
    entry_hash,
    person_ref,
    verify,
)
from hub.storage import Database, audit_recent
from hub.storage.audit_recent import audit_rows_naming, audit_rows_naming_oldest_first
from hub.storage.models_audit import AuditEntryRow, AuditHead, AuditRefRow
from tests.fixtures.database import BACKENDS, T0, PostgresDatabases, empty_schema

A = AuditAction


def index_pairs(s: Session) -> set[tuple[str, int]]:
    return {(r.ref, r.seq) for r in s.execute(select(AuditRefRow.ref, AuditRefRow.seq))}


def chain_pairs(s: Session) -> set[tuple[str, int]]:
    """What the index must hold, worked out from the chain itself."""
    return {(name, row.seq) for row in entries(s) for name in (row.actor, *row.subjects)}


def mixed_entries(n: int, *, homes: int = 3, start: int = 0) -> list[NewEntry]:
    """Entries naming homes, doors and people in turn; some name one ref twice."""
    out = []
    for i in range(start, start + n):
        home = f"home:h{i % homes}"
        subjects = [home, device_ref(f"door-{i % homes}")]
        if i % 5 == 0:
            subjects.append(home)  # named twice: still one index row
        if i % 7 == 0:
            subjects.append(person_ref(f"p{i % 2}"))
        actor = person_ref(f"p{i % 2}") if i % 3 else "service:hub"
        out.append(NewEntry(A.RETENTION_CHANGED, actor, T0 + timedelta(seconds=i), subjects))
    return out


def test_each_append_indexes_every_distinct_ref_of_its_entry(database: Database) -> None:
    with database.session() as s:
        one = append(
            s,
            A.UNLOCK_REQUESTED,
            actor=person_ref("p1"),
            at=T0,
            subjects=[device_ref("door-1"), "home:h1", person_ref("p1"), device_ref("door-1")],
        )
        append_many(s, mixed_entries(50))
    with database.read_session() as s:
        pairs = index_pairs(s)
        assert pairs == chain_pairs(s)
        assert {p for p in pairs if p[1] == one.seq} == {
            (person_ref("p1"), one.seq),
            ("device:door-1", one.seq),
            ("home:h1", one.seq),
        }


def test_a_rolled_back_append_leaves_no_index_rows(database: Database) -> None:
    with database.session() as s:
        append(s, A.LOGIN, actor=person_ref("p1"), at=T0)
    with contextlib.suppress(RuntimeError), database.session() as s:
        append(s, A.LOGIN, actor=person_ref("p2"), at=T0, subjects=["home:h9"])
        raise RuntimeError("the caller's transaction fails after the append")
    with database.read_session() as s:
        assert index_pairs(s) == {(person_ref("p1"), 1)}


@pytest.mark.parametrize("window", [2, 50, 4096])
def test_paging_a_home_returns_every_entry_once_newest_first(
    database: Database, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small windows: the look-back crosses many of them within one page.
    monkeypatch.setattr(audit_recent, "FIRST_WINDOW", window)
    with database.session() as s:
        append_many(s, mixed_entries(600, homes=4))
        append_many(s, [NewEntry(A.LOGIN, person_ref("p9"), T0, ["home:h9"])] * 900)
    mine = {"home:h1", device_ref("door-1"), person_ref("p0")}
    with database.read_session() as s:
        expected = [
            r.seq
            for r in reversed(list(entries(s)))
            if r.actor in mine or mine.intersection(r.subjects)
        ]
        got: list[int] = []
        before = None
        while True:
            page = audit_rows_naming(s, mine, before=before, limit=37)
            got += [r.seq for r in page]
            if len(page) < 37:
                break
            before = page[-1].seq
    assert len(expected) > 300
    assert got == expected  # newest first, each exactly once, nothing missed


def test_a_person_s_entries_in_chain_order_through_the_index(database: Database) -> None:
    with database.session() as s:
        append_many(s, mixed_entries(2500))
    with database.read_session() as s:
        mine = person_ref("p1")
        want = [r for r in entries(s) if r.actor == mine or mine in r.subjects]
        assert list(entries_naming(s, mine)) == want
        assert len(want) > 800
        # Small batches: the paging itself is exercised, not only one read.
        assert list(audit_rows_naming_oldest_first(s, mine, batch=64)) == want


def test_verification_ignores_the_index(database: Database) -> None:
    key = Ed25519PrivateKey.generate()
    with database.session() as s:
        append_many(s, mixed_entries(40))
        s.execute(delete(AuditRefRow))  # an index lost or wrong does not touch the chain
        s.execute(insert(AuditRefRow).values(ref="home:h-nowhere", seq=999))
    assert verify(database, [], key.public_key()).chain_ok  # the index is reported apart
    with database.session() as s:  # and a tampered entry is still found without it
        s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 7).values(details={"x": 1}))
    assert not verify(database, [], key.public_key()).ok


# -- the migration's backfill --------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def database_at_0014(request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty database migrated only to 0014 (before the index)."""
    if request.param == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="doorstep-0014-"))
        db = Database(f"sqlite:///{folder / 'hub.sqlite3'}")
        try:
            db.upgrade("0014")
            yield db
        finally:
            db.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    pg: PostgresDatabases = request.getfixturevalue("postgres_databases")
    db, name = pg.new()
    try:
        empty_schema(db)  # start again from nothing, then stop at 0014
        db.upgrade("0014")
        yield db
    finally:
        db.dispose()
        pg.drop(name)


def _seed_without_index(s: Session, new: list[NewEntry]) -> None:
    """Chain entries the way the append did before 0015 (no index table yet)."""
    seq, prev = s.execute(select(AuditHead.seq, AuditHead.hash)).one()
    rows = []
    for e in new:
        seq += 1
        fields = {
            "seq": seq,
            "at": e.at,
            "actor": e.actor,
            "action": e.action.value,
            "subjects": list(e.subjects),
            "details": dict(e.details),
            "prev_hash": prev,
        }
        prev = entry_hash(**fields)
        rows.append({**fields, "hash": prev})
    s.execute(insert(AuditEntryRow), rows)
    s.execute(update(AuditHead).values(seq=seq, hash=prev))


def test_the_migration_backfills_the_index_from_the_chain(database_at_0014: Database) -> None:
    db = database_at_0014
    assert db.current_revision() == "0014"
    with db.session() as s:
        _seed_without_index(s, mixed_entries(12_345))  # more than two backfill batches
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    with db.session() as s:
        append_many(s, mixed_entries(20, start=12_345))  # and the append carries on
    with db.read_session() as s:
        pairs = index_pairs(s)
        assert pairs == chain_pairs(s)
        assert max(seq for _, seq in pairs) == 12_365
    assert verify(db, [], Ed25519PrivateKey.generate().public_key()).ok
