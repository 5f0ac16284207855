"""Erasure: a person's personal data goes, the audit chain stays whole.

``doorstep audit verify`` (the real command, against the same database) passes after
the erasure; the export made afterwards holds nothing personal.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import cli
from hub.audit import AuditAction, entries, person_ref, stored_checkpoints, verify
from hub.erasure import ErasureRefused, erase_person_data
from hub.errors import UnknownPerson
from hub.storage import Database, add_membership, get_command
from hub.storage.accounts import find_account
from hub.storage.models import CheckIn, Membership, Person, StoredSnapshot, VisitWindow
from hub.storage.models_registry import Role
from hub.storage.privacy import consent_history, find_erasure
from hub.subject_access import export_person
from protocol.signing import public_key_pem
from tests.fixtures.database import T0
from tests.hub.test_subject_access import ADMIN, World, build_world

PERSONAL = ("Margaret", "Sam Carer", "samcarer", "sam@example.org", "07700", "upstairs")


@pytest.fixture
def world(database: Database, tmp_path: Path) -> World:
    return build_world(database, tmp_path)


def audit_verify_cli(w: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """``doorstep audit verify --db URL --public-key PEM``, as an operator would run it."""
    pem = tmp_path / "hub-signing.pub"
    pem.write_bytes(public_key_pem(w.key.public_key()))
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))
    parser = argparse.ArgumentParser(prog="doorstep")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["audit", "verify", "--db", w.db.url, "--public-key", str(pem), "--json"]
    )
    return int(args.handler(args))


def test_erasure_keeps_the_chain_and_removes_the_personal_data(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    w = world
    with w.db.read_session() as s:
        entries_before = [e.hash for e in entries(s)]
    for person in (w.resident, w.carer, w.owner):
        erase_person_data(w.db, w.files, person, by=ADMIN, at=T0)

    with w.db.read_session() as s:
        report = verify(w.db, stored_checkpoints(s), w.key.public_key())
        kept = [e.hash for e in entries(s)][: len(entries_before)]
        erasures = [e for e in entries(s) if e.action == AuditAction.ERASURE.value]
        assert s.scalars(select(Person)).all() == []
        assert find_account(s, "samcarer") is None  # the account is gone: no more logins
        for table in (Membership, VisitWindow, CheckIn, StoredSnapshot):
            assert s.scalars(select(table)).all() == [], table.__tablename__
        [consent] = consent_history(s, w.home)  # the decision stays, the names go
        assert (consent.given_by, consent.notes) == (None, None)
        assert consent.scope == ["snapshots", "visit_records"]
        command = get_command(s, "11111111-1111-4111-8111-111111111111")
        assert (command.action, command.reason) == ("unlock", "")
        tombstone = find_erasure(s, w.resident)
        assert tombstone is not None
        assert tombstone.homes == [w.home]
    assert report.ok, report.summary()
    assert kept == entries_before, "no audit entry may change"
    assert [list(e.subjects) for e in erasures] == [
        [person_ref(p)] for p in (w.resident, w.carer, w.owner)
    ]
    assert erasures[0].details["snapshots_deleted"] == 1
    assert not w.files.exists(w.snapshot_sha), "the ring picture's file is deleted too"
    capsys.readouterr()
    assert audit_verify_cli(w, tmp_path, monkeypatch) == 0
    assert '"ok": true' in capsys.readouterr().out


def test_an_export_after_erasure_holds_nothing_personal(world: World) -> None:
    for person in (world.resident, world.carer):
        erase_person_data(world.db, world.files, person, by=ADMIN, at=T0)
        out = io.BytesIO()
        manifest = export_person(world.db, world.files, person, out, by=ADMIN, at=T0)
        zf = zipfile.ZipFile(io.BytesIO(out.getvalue()))
        text = "\n".join(zf.read(n).decode() for n in zf.namelist())
        assert [p for p in PERSONAL if p in text] == []
        assert not [n for n in zf.namelist() if n.endswith(".jpg")]
        assert zf.read("person.json") == b"null"
        assert manifest["erased"]["erased_by"] == ADMIN


def test_erasure_is_idempotent_and_refuses_oneself_and_strangers(world: World) -> None:
    first = erase_person_data(world.db, world.files, world.carer, by=ADMIN, at=T0)
    again = erase_person_data(world.db, world.files, world.carer, by=ADMIN, at=T0)
    assert (first.already_erased, again.already_erased) == (False, True)
    with world.db.read_session() as s:
        assert sum(e.action == "erasure" for e in entries(s)) == 1
    with pytest.raises(ErasureRefused):
        erase_person_data(world.db, world.files, world.owner, by=person_ref(world.owner))
    with pytest.raises(UnknownPerson):
        erase_person_data(world.db, world.files, "no-such-person", by=ADMIN)
    with world.db.session() as s:
        add_membership(s, person_id=world.owner, home_id=world.home, role=Role.ADMIN, at=T0)
    with pytest.raises(ErasureRefused, match="only administrator"):
        erase_person_data(world.db, world.files, world.owner, by=ADMIN)
