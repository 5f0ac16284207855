"""Tampering with a 10,000-entry audit log: every attack is detected and the first bad
entry is named. Each attack runs inside a transaction that is rolled back afterwards,
so one log (per backend) serves every case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from hub.audit import (
    AuditAction,
    CheckpointStatement,
    NewEntry,
    Reason,
    append_many,
    entry_hash,
    make_checkpoint,
    person_ref,
    stored_checkpoints,
    verify,
    verify_session,
)
from hub.storage import Database, create_person, erase_person
from hub.storage.audit_rows import audit_row, iter_audit_rows
from hub.storage.models import AuditEntryRow, AuditHead
from protocol.signing import SignedEnvelope, sign
from tests.fixtures.database import T0

ENTRIES = 10_000
EVERY = 1_000  # a checkpoint after every thousand entries
ACTIONS = list(AuditAction)


@dataclass
class Log:
    db: Database
    key: Ed25519PrivateKey
    checkpoints: list[SignedEnvelope]
    person_id: str


def _entries(start: int, person: str) -> list[NewEntry]:
    return [
        NewEntry(
            action=ACTIONS[n % len(ACTIONS)],
            actor=person_ref(person),
            at=T0 + timedelta(seconds=n),
            subjects=(f"device:door-{n % 7:03d}", f"command:c-{n}"),
            details={"n": n, "note": "ünïcode ok", "ratio": n / 7},
        )
        for n in range(start, start + EVERY)
    ]


@pytest.fixture(scope="module")
def log(module_database: Database) -> Log:
    key = Ed25519PrivateKey.generate()
    with module_database.session() as s:
        person = create_person(s, display_name="Anna Example", at=T0).id
    for start in range(0, ENTRIES, EVERY):
        with module_database.session() as s:
            append_many(s, _entries(start, person))
            make_checkpoint(s, key, now=T0 + timedelta(seconds=start + EVERY))
    with module_database.read_session() as s:
        checkpoints = stored_checkpoints(s)
    return Log(module_database, key, checkpoints, person)


def _check(log: Log, tamper) -> object:
    """Apply ``tamper(session)``, verify in the same transaction, then roll back."""
    with log.db.engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn)
        try:
            extra = tamper(session) or []
            session.flush()
            return verify_session(session, log.checkpoints + extra, log.key.public_key())
        finally:
            session.close()
            trans.rollback()


def _first(report) -> tuple[int, Reason]:
    assert not report.ok
    return report.first.seq, report.first.reason


def _rehash(session: Session, seq: int, **changes: object) -> str:
    """Change entry ``seq`` and give it a hash that matches its new content."""
    row = audit_row(session, seq)
    fields = {
        "seq": row.seq,
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "subjects": row.subjects,
        "details": row.details,
        "prev_hash": row.prev_hash,
    } | changes
    new_hash = entry_hash(**fields)
    values = {k: v for k, v in changes.items() if k != "seq"} | {"hash": new_hash}
    session.execute(update(AuditEntryRow).where(AuditEntryRow.seq == seq).values(**values))
    return new_hash


def test_intact_log_verifies_with_every_checkpoint(log: Log) -> None:
    report = verify(log.db, log.checkpoints, log.key.public_key())
    assert report.ok, report.summary()
    assert (report.entries, report.head_seq) == (ENTRIES, ENTRIES)
    assert (report.checkpoints_valid, report.newest_checkpoint_seq) == (10, ENTRIES)
    assert "audit log intact: 10000 entries" in report.summary()


def test_edited_entry_is_named(log: Log) -> None:
    def edit(s: Session) -> None:
        s.execute(update(AuditEntryRow).where(AuditEntryRow.seq == 4321).values(details={"n": 0}))

    assert _first(_check(log, edit)) == (4321, Reason.EDITED)


def test_edited_and_rehashed_entry_is_named_by_the_broken_link(log: Log) -> None:
    def edit(s: Session) -> None:
        _rehash(s, 4321, actor="person:someone-else")

    report = _check(log, edit)
    assert _first(report) == (4321, Reason.EDITED)
    assert "re-hashed" in report.first.detail


def test_deleted_entry_is_named(log: Log) -> None:
    def remove(s: Session) -> None:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 7000))

    report = _check(log, remove)
    assert _first(report) == (7000, Reason.DELETED)
    assert "#7000 missing" in report.first.detail


def test_deleted_first_entry_is_named(log: Log) -> None:
    def remove(s: Session) -> None:
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.seq == 1))

    assert _first(_check(log, remove)) == (1, Reason.DELETED)


def test_reordered_entries_are_named(log: Log) -> None:
    def swap(s: Session) -> None:
        rows = AuditEntryRow.seq
        s.execute(update(AuditEntryRow).where(rows == 3000).values(seq=-1))
        s.execute(update(AuditEntryRow).where(rows == 3001).values(seq=3000))
        s.execute(update(AuditEntryRow).where(rows == -1).values(seq=3001))

    report = _check(log, swap)
    assert _first(report) == (3000, Reason.REORDERED)
    assert "written as #3001" in report.first.detail


def test_truncated_log_is_caught_by_the_checkpoints(log: Log) -> None:
    def truncate(s: Session) -> None:
        # A careful attacker also moves the head row back to the new last entry.
        last = audit_row(s, 9000)
        s.execute(delete(AuditEntryRow).where(AuditEntryRow.seq > 9000))
        s.execute(update(AuditHead).values(seq=9000, hash=last.hash))

    report = _check(log, truncate)
    assert _first(report) == (9001, Reason.TRUNCATED)
    assert "covers #10000" in report.first.detail


def test_truncation_without_checkpoints_is_caught_by_the_head_row(log: Log) -> None:
    with log.db.engine.connect() as conn, conn.begin() as trans:
        session = Session(bind=conn)
        session.execute(delete(AuditEntryRow).where(AuditEntryRow.seq > 9990))
        report = verify_session(session, [], log.key.public_key())
        session.close()
        trans.rollback()
    assert _first(report) == (9991, Reason.TRUNCATED)


def test_forged_checkpoint_signature_is_named(log: Log) -> None:
    genuine = log.checkpoints[4]  # covers #5000
    forged = SignedEnvelope(
        kid=genuine.kid,
        payload=genuine.payload.replace('"seq":5000', '"seq":5001'),
        sig=genuine.sig,
    )
    report = _check(log, lambda s: [forged])
    assert _first(report) == (5001, Reason.FORGED_CHECKPOINT)
    assert "forged or altered" in report.first.detail


def test_rewritten_chain_with_attackers_checkpoint_is_caught(log: Log) -> None:
    attacker = Ed25519PrivateKey.generate()

    def rewrite(s: Session) -> list[SignedEnvelope]:
        # Change #6500 and re-hash everything after it: the chain itself is consistent,
        # then sign a checkpoint of the new head with the attacker's own key.
        prev = _rehash(s, 6500, details={"n": 6500, "note": "nothing happened"})
        relinked = []
        for row in list(iter_audit_rows(s, after=6500)):
            fields = {
                "seq": row.seq,
                "at": row.at,
                "actor": row.actor,
                "action": row.action,
                "subjects": row.subjects,
                "details": row.details,
                "prev_hash": prev,
            }
            new_hash = entry_hash(**fields)
            relinked.append({"k": row.seq, "p": prev, "h": new_hash})
            prev = new_hash
        table = AuditEntryRow.__table__
        stmt = (
            update(table)
            .where(table.c.seq == bindparam("k"))
            .values(prev_hash=bindparam("p"), hash=bindparam("h"))
        )
        s.execute(stmt, relinked)
        s.execute(update(AuditHead).values(seq=ENTRIES, hash=prev))
        statement = CheckpointStatement(seq=ENTRIES, hash=prev, at=T0 + timedelta(days=1))
        return [sign(statement, attacker)]

    report = _check(log, rewrite)
    # The first genuine checkpoint after the change is the first entry known to be bad.
    assert _first(report) == (7000, Reason.CHECKPOINT_MISMATCH)
    assert "#6001..#7000" in report.first.detail
    reasons = {p.reason for p in report.problems}
    assert reasons == {Reason.CHECKPOINT_MISMATCH, Reason.FORGED_CHECKPOINT}


def test_erasing_a_person_keeps_the_chain_valid(log: Log) -> None:
    with log.db.engine.connect() as conn, conn.begin() as trans:
        session = Session(bind=conn)
        assert erase_person(session, log.person_id)
        session.flush()
        referenced = session.execute(
            select(AuditEntryRow.actor).where(AuditEntryRow.seq == 1)
        ).scalar_one()
        report = verify_session(session, log.checkpoints, log.key.public_key())
        session.close()
        trans.rollback()
    assert referenced == person_ref(log.person_id)  # the bare id stays; the name is gone
    assert report.ok, report.summary()
