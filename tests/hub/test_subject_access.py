"""Subject-access export: one person's data as a zip, on SQLite and PostgreSQL.

The world below (also used by the erasure tests): a home with one door, the person
cared for there (named in the consent record), a carer with an account, visit window
and check-in, an owner who asked for an unlock, a ring with its snapshot, and audit
entries (with a signed checkpoint) naming them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import cli
from hub.audit import AuditAction, append, entries, make_checkpoint, person_ref, service_ref
from hub.consent import ConsentInput, record_consent
from hub.storage import (
    Database,
    SnapshotFiles,
    add_membership,
    create_person,
    store_event,
    store_snapshot,
)
from hub.storage.accounts import create_account
from hub.storage.commands import create_command
from hub.storage.models_registry import Role
from hub.storage.visits import add_check_in, add_window
from hub.subject_access import WITHHELD, export_person
from protocol.examples import EXAMPLE_JPEG
from protocol.snapshots import Snapshot, SnapshotMeta
from tests.fixtures.database import T0, add_device, ring
from tests.web.conftest import fast_passwords

ADMIN = service_ref("test-admin")


@dataclass
class World:
    db: Database
    files: SnapshotFiles
    key: Ed25519PrivateKey
    home: str
    device: str
    resident: str
    carer: str
    owner: str
    jpeg: bytes
    snapshot_sha: str


def build_world(db: Database, root: Path) -> World:
    files = SnapshotFiles(root / "snapshots")
    key = Ed25519PrivateKey.generate()
    home, device = add_device(db)
    jpeg = EXAMPLE_JPEG[:2] + b"\xff\xfe\x00\x0cMargaret!!" + EXAMPLE_JPEG[2:]
    sha = hashlib.sha256(jpeg).hexdigest()
    with db.session() as s:
        resident = create_person(s, display_name="Margaret Example", at=T0).id
        carer = create_person(
            s, display_name="Sam Carer", at=T0, contact={"phone": "07700 900123"}
        ).id
        owner = create_person(s, display_name="Olive Owner", at=T0).id
        add_membership(s, person_id=carer, home_id=home, role=Role.CARER, at=T0)
        add_membership(s, person_id=owner, home_id=home, role=Role.FAMILY_OWNER, at=T0)
        create_account(
            s,
            fast_passwords(),
            person_id=carer,
            username="samcarer",
            password="correct horse battery staple",
            email="sam@example.org",
            at=T0,
        )
        window = add_window(
            s,
            home_id=home,
            carer_id=carer,
            agency="Helping Hands",
            weekday=T0.weekday(),
            start=T0.time(),
            end=(T0 + timedelta(minutes=30)).time(),
            tolerance_min=10,
            created_by=owner,
            at=T0,
        )
        add_check_in(s, window.id, carer, at=T0)
        append(s, AuditAction.CHECKED_IN, actor=person_ref(carer), at=T0, subjects=[])
        record_consent(
            s,
            home,
            ConsentInput(
                basis="person",
                resident_id=resident,
                given_by="Margaret Example",
                scope=["snapshots", "visit_records"],
                consented_on=date(2026, 1, 5),
                review_on=date(2027, 1, 5),
                notes="Margaret likes the door chime quiet",
            ),
            by=owner,
            at=T0,
        )
        create_command(
            s,
            command_id="11111111-1111-4111-8111-111111111111",
            device_id=device,
            action="unlock",
            counter=1,
            requested_by=owner,
            reason="let Sam in, Margaret is upstairs",
            at=T0,
        )
        event = ring(device, 2)
        meta = SnapshotMeta(
            device=device,
            id="22222222-2222-4222-8222-222222222222",
            seq=1,
            boot_id="ab" * 8,
            at=T0,
            monotonic_ms=1,
            reason="ring",
            width=1,
            height=1,
            size_bytes=len(jpeg),
            sha256=sha,
            event_id=event.id,
        )
        store_snapshot(s, files, Snapshot(meta=meta, jpeg=jpeg), T0)
        store_event(s, event, T0)
        make_checkpoint(s, key, now=T0)
    return World(db, files, key, home, device, resident, carer, owner, jpeg, sha)


@pytest.fixture
def world(database: Database, tmp_path: Path) -> World:
    return build_world(database, tmp_path)


def export_zip(w: World, person: str) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    out = io.BytesIO()
    manifest = export_person(w.db, w.files, person, out, by=ADMIN, at=T0 + timedelta(days=1))
    zf = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    return zf, manifest


def read_json(zf: zipfile.ZipFile, name: str) -> Any:
    return json.loads(zf.read(name))


def test_the_person_cared_for_gets_their_home_events_pictures_and_consent(world: World) -> None:
    zf, manifest = export_zip(world, world.resident)
    names = set(zf.namelist())
    assert {"README.txt", "manifest.json", "person.json", "audit.json", "consent.json"} <= names
    assert read_json(zf, "person.json")["display_name"] == "Margaret Example"
    home = f"homes/{world.home}"
    assert [e["kind"] for e in read_json(zf, f"{home}/events.json")] == ["snapshot", "ring"]
    assert zf.read(f"{home}/snapshots/22222222-2222-4222-8222-222222222222.jpg") == world.jpeg
    assert read_json(zf, f"{home}/visit_windows.json")[0]["agency"] == "Helping Hands"
    [consent] = read_json(zf, "consent.json")
    assert consent["resident_id"] == world.resident
    assert consent["scope"] == ["snapshots", "visit_records"]
    assert any(world.resident in " ".join(e["subjects"]) for e in read_json(zf, "audit.json"))
    # The manifest lists every other file with its digest, and says who is concerned.
    assert manifest["person_id"] == world.resident
    assert manifest["cared_for_in_homes"] == [world.home]
    assert read_json(zf, "manifest.json") == manifest
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == names - {"manifest.json"}
    for path, digest in listed.items():
        assert hashlib.sha256(zf.read(path)).hexdigest() == digest


def test_a_carer_gets_their_windows_check_ins_and_account_without_secrets(world: World) -> None:
    zf, _ = export_zip(world, world.carer)
    person = read_json(zf, "person.json")
    assert person["contact"] == {"phone": "07700 900123"}
    [account] = read_json(zf, "tables/accounts.person_id.json")
    assert account["username"] == "samcarer"
    assert account["password_hash"] == WITHHELD
    assert "argon2" not in zf.read("tables/accounts.person_id.json").decode()
    assert len(read_json(zf, "tables/check_ins.person_id.json")) == 1
    [window] = read_json(zf, "tables/visit_windows.carer_id.json")
    assert window["agency"] == "Helping Hands"
    assert [m["role"] for m in read_json(zf, "tables/memberships.person_id.json")] == ["carer"]
    assert [e["action"] for e in read_json(zf, "audit.json")] == ["checked_in"]
    # Not cared for anywhere: no home's events or pictures.
    assert not [n for n in zf.namelist() if n.startswith("homes/")]


def test_the_owner_gets_the_commands_they_asked_for_and_the_export_is_audited(
    world: World,
) -> None:
    zf, _ = export_zip(world, world.owner)
    [command] = read_json(zf, "commands.json")
    assert (command["action"], command["reason"]) == ("unlock", "let Sam in, Margaret is upstairs")
    with world.db.read_session() as s:
        last = list(entries(s))[-1]
    assert last.action == AuditAction.EXPORT.value
    assert last.actor == ADMIN
    assert list(last.subjects) == [person_ref(world.owner)]
    assert last.details["what"] == "subject_access"


def test_the_command_line_writes_the_same_zip_and_audits_the_operator(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))  # snapshots: tmp_path/snapshots
    out = tmp_path / "margaret.zip"
    parser = argparse.ArgumentParser(prog="doorstep")
    cli.register(parser.add_subparsers(dest="command"))
    argv = ["hub", "export-person", world.resident, "--out", str(out), "--db", world.db.url]
    args = parser.parse_args(argv)
    assert args.handler(args) == 0
    assert "margaret.zip" in capsys.readouterr().out
    zf = zipfile.ZipFile(out)
    assert read_json(zf, "person.json")["display_name"] == "Margaret Example"
    assert zf.read(f"homes/{world.home}/snapshots/22222222-2222-4222-8222-222222222222.jpg")
    with world.db.read_session() as s:
        last = list(entries(s))[-1]
    assert last.action == "export"
    assert last.actor.startswith("operator:")
