"""Verification checks the audit reference index (``audit_refs``); ``reindex`` repairs it.

The index is not hashed, yet exports find entries through it: a row deleted, added or
edited there must make ``verify`` fail (naming the seq and the references), and
``doorstep audit reindex`` must put it back from the entries, once.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from hub import cli
from hub.audit import (
    AuditAction,
    NewEntry,
    append_many,
    device_ref,
    entries,
    head,
    person_ref,
    verify,
)
from hub.audit import reindex as reindex_module
from hub.audit.reindex import ChainBroken, reindex
from hub.audit.verify_index import IndexMismatch
from hub.storage import Database
from hub.storage.models_audit import AuditEntryRow, AuditRefRow
from tests.fixtures.database import T0

A = AuditAction
KEY = Ed25519PrivateKey.generate().public_key()
OPERATOR = "operator:ana"


def fill(db: Database, n: int = 30) -> None:
    """Entries naming a home, its door and sometimes a person; some name a ref twice."""
    out = []
    for i in range(n):
        home = f"home:h{i % 3}"
        subjects = [home, device_ref(f"door-{i % 3}")]
        if i % 5 == 0:
            subjects.append(home)
        if i % 4 == 0:
            subjects.append(person_ref(f"p{i % 2}"))
        out.append(
            NewEntry(A.UNLOCK_REQUESTED, person_ref("p1"), T0 + timedelta(seconds=i), subjects)
        )
    with db.session() as s:
        append_many(s, out)


def index_pairs(s: Session) -> set[tuple[str, int]]:
    return {(r.ref, r.seq) for r in s.execute(select(AuditRefRow.ref, AuditRefRow.seq))}


def chain_pairs(s: Session) -> set[tuple[str, int]]:
    """What the index must hold, worked out here without the hub's code."""
    return {(name, row.seq) for row in entries(s) for name in (row.actor, *row.subjects)}


def tamper(db: Database, *statements) -> None:
    with db.session() as s:
        for stmt in statements:
            s.execute(stmt)


def drop_row(ref: str, seq: int):
    return delete(AuditRefRow).where(AuditRefRow.ref == ref, AuditRefRow.seq == seq)


def test_a_clean_log_verifies_with_its_index(database: Database) -> None:
    fill(database)
    report = verify(database, [], KEY)
    assert report.ok
    assert report.index.ok
    with database.read_session() as s:
        assert report.index.rows == len(chain_pairs(s)) > 30
    assert "matches the entries" in report.index.summary()


def test_a_deleted_index_row_is_reported_with_its_seq(database: Database) -> None:
    fill(database)
    tamper(database, drop_row("home:h1", 8))
    report = verify(database, [], KEY)
    assert not report.ok
    assert report.chain_ok  # the chain itself is untouched
    assert report.index.first == (IndexMismatch(8, missing=("home:h1",)),)
    assert (report.index.wrong_entries, report.index.missing_rows) == (1, 1)
    assert "#8: the index lacks home:h1" in str(report.index.first[0])
    summary = report.summary()
    assert summary.startswith("audit log intact")  # the chain line is as before
    assert "is WRONG" in summary
    assert "doorstep audit reindex" in summary


def test_a_bogus_row_is_reported(database: Database) -> None:
    fill(database)
    tamper(
        database,
        insert(AuditRefRow).values(ref="home:h9", seq=3),  # an entry that names no h9
        insert(AuditRefRow).values(ref="home:nowhere", seq=999),  # no entry at all
        insert(AuditRefRow).values(ref="home:before", seq=0),
    )
    index = verify(database, [], KEY).index
    assert not index.ok
    assert index.first == (
        IndexMismatch(0, extra=("home:before",), entry_exists=False),
        IndexMismatch(3, extra=("home:h9",)),
        IndexMismatch(999, extra=("home:nowhere",), entry_exists=False),
    )
    assert (index.wrong_entries, index.extra_rows) == (1, 1)
    assert (index.orphan_seqs, index.orphan_rows) == (2, 2)
    assert "#999: no such entry" in str(index.first[2])


def test_an_edited_ref_is_reported_as_missing_and_extra(database: Database) -> None:
    fill(database)
    tamper(
        database,
        update(AuditRefRow)
        .where(AuditRefRow.ref == "home:h1", AuditRefRow.seq == 5)
        .values(ref="home:h2"),
    )
    index = verify(database, [], KEY).index
    assert index.first == (IndexMismatch(5, missing=("home:h1",), extra=("home:h2",)),)


def test_reindex_repairs_and_a_second_run_changes_nothing(database: Database) -> None:
    fill(database)
    tamper(
        database,
        drop_row("home:h1", 8),
        drop_row(person_ref("p1"), 12),
        insert(AuditRefRow).values(ref="home:nowhere", seq=999),
        update(AuditRefRow)
        .where(AuditRefRow.ref == "home:h1", AuditRefRow.seq == 5)
        .values(ref="home:h2"),
    )
    assert not verify(database, [], KEY).ok

    first = reindex(database, actor=OPERATOR, at=T0)
    assert (first.added, first.removed) == (3, 2)
    assert (first.entries_fixed, first.orphan_seqs) == (3, 1)
    assert [m.seq for m in first.first] == [5, 8, 12, 999]
    assert first.recorded_seq == 31
    report = verify(database, [], KEY)
    assert report.ok, report.summary()
    with database.read_session() as s:
        assert index_pairs(s) == chain_pairs(s)
        recorded = list(entries(s, after=30))
    assert [(e.action, e.actor) for e in recorded] == [("audit_index_rebuilt", OPERATOR)]
    assert recorded[0].details == {
        "what": "audit_refs",
        "added": 3,
        "removed": 2,
        "entries_fixed": 3,
        "orphan_seqs": 1,
    }

    with database.read_session() as s:
        before = head(s)
    second = reindex(database, actor=OPERATOR, at=T0)
    assert not second.changed
    assert second.recorded_seq is None
    assert (second.added, second.removed, second.entries) == (0, 0, 31)
    assert "nothing changed" in second.summary()
    with database.read_session() as s:
        assert head(s) == before  # not even an audit entry


def test_a_lost_index_of_a_large_log_is_found_and_rebuilt_in_batches(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More entries and index rows than one page of either stream.
    fill(database, 6_000)
    tamper(database, delete(AuditRefRow).where(AuditRefRow.seq % 10 == 0))
    index = verify(database, [], KEY).index
    assert index.wrong_entries == 600
    assert len(index.first) == 5
    assert [m.seq for m in index.first] == [10, 20, 30, 40, 50]
    monkeypatch.setattr(reindex_module, "BATCH", 7)  # many writes while the streams are open
    result = reindex(database, actor=OPERATOR, at=T0)
    assert result.entries_fixed == 600
    assert verify(database, [], KEY).ok
    with database.read_session() as s:
        assert index_pairs(s) == chain_pairs(s)


def test_reindex_refuses_a_broken_chain_unless_forced(database: Database) -> None:
    fill(database)
    tamper(
        database,
        delete(AuditEntryRow).where(AuditEntryRow.seq == 5),
    )
    with pytest.raises(ChainBroken, match="#5 \\(deleted\\)"):
        reindex(database, actor=OPERATOR, at=T0)
    with database.read_session() as s:  # the orphaned rows, the only trace of #5, stay
        assert s.scalar(select(func.count()).where(AuditRefRow.seq == 5)) > 0
    forced = reindex(database, actor=OPERATOR, at=T0, force=True)
    assert forced.orphan_seqs == 1
    assert forced.added == 0
    assert verify(database, [], KEY).index.ok


# -- the command line ----------------------------------------------------------------


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="doorstep")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_cli_verify_fails_on_a_wrong_index_and_reindex_repairs_it(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))  # no keys: none are needed
    url = database.url
    fill(database)
    assert run("audit", "verify", "--db", url) == 0
    assert "reference index (audit_refs) matches the entries" in capsys.readouterr().out

    tamper(database, drop_row("home:h1", 8))
    assert run("audit", "verify", "--db", url) == 1
    out = capsys.readouterr().out
    assert out.startswith("audit log intact: 30 entries")
    assert "reference index (audit_refs) is WRONG" in out
    assert "Repair it with 'doorstep audit reindex'" in out
    assert "index: #8: the index lacks home:h1" in out

    assert run("audit", "verify", "--db", url, "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["chain_ok"], report["problems"]) == (False, True, [])
    assert report["index"]["first"] == [
        {"seq": 8, "entry_exists": True, "missing": ["home:h1"], "extra": []}
    ]
    assert report["index"]["repair"] == "doorstep audit reindex"

    assert run("audit", "reindex", "--db", url) == 0
    out = capsys.readouterr().out
    assert "fixed: #8: the index lacks home:h1" in out
    assert "added 1 rows, removed 0 rows" in out
    assert "audit entry #31" in out
    assert run("audit", "verify", "--db", url) == 0
    capsys.readouterr()
    assert run("audit", "reindex", "--db", url) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_cli_reindex_of_a_broken_chain_exits_2_and_says_why(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))
    fill(database)
    tamper(database, update(AuditEntryRow).where(AuditEntryRow.seq == 9).values(details={"x": 1}))
    assert run("audit", "reindex", "--db", database.url) == 2
    err = capsys.readouterr().err
    assert "the audit chain is broken (#9 (edited)" in err
    assert "--force" in err
    assert run("audit", "reindex", "--db", database.url, "--force") == 0
    assert "already matches" in capsys.readouterr().out
