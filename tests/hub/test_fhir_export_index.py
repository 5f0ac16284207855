"""The home FHIR export of unlocks reads the audit log through the ``audit_refs`` index.

It must export exactly what the old scan gave (every home's unlock entries in the
window, filtered here by the home's doors), while reading only the entries that name
one of the home's doors: a quiet home in a busy council costs its own entries.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from hub.audit import AuditAction, append, command_ref, device_ref, person_ref
from hub.audit.actions import RefKind, ref, split_ref
from hub.exports.fhir import UNLOCK_ACTIONS, RoleLookup, unlock_audit_event, unlock_audit_events
from hub.storage import Database, create_command, create_home, register_device
from hub.storage.audit_recent import audit_rows_naming_between
from hub.storage.audit_rows import AuditRow
from hub.storage.homes import add_membership, create_person
from hub.storage.models_registry import Role
from hub.storage.reports import audit_rows_between, commands_by_id, devices_in, roles_in_homes
from protocol.examples import example_key
from protocol.signing import public_key_pem
from tests.fixtures.audit_reads import entries_read
from tests.fixtures.database import T0

A = AuditAction
ACTIONS = [a.value for a in UNLOCK_ACTIONS]
SINCE = T0 + timedelta(hours=1)
UNTIL = T0 + timedelta(hours=3)
WINDOWS = [
    (SINCE, UNTIL),
    (T0 - timedelta(days=1), T0 + timedelta(days=1)),  # everything
    (T0 + timedelta(hours=2), T0 + timedelta(hours=2)),  # empty window
    (T0 + timedelta(minutes=30), T0 + timedelta(hours=1, minutes=30)),
]
OFF_ACTIONS = [A.SNAPSHOT_VIEWED, A.DEVICE_ASSIGNED, A.BREAK_GLASS_REVIEWED, A.LOGIN]


# -- the old implementation, kept as the reference ----------------------------------


def old_rows(s: Session, doors: set[str], since: datetime, until: datetime) -> list[AuditRow]:
    """What ``unlock_audit_events`` read before: every home's unlocks, filtered here."""
    return [
        r
        for r in audit_rows_between(s, ACTIONS, since, until)
        if doors.intersection(r.subjects) or r.actor in doors
    ]


def old_unlock_audit_events(
    s: Session, home_id: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """A verbatim copy of the export before it used the index."""
    doors = {device_ref(d.id) for d in devices_in(s, {home_id})}
    rows = old_rows(s, doors, since, until)
    command_ids = {
        ident for r in rows for kind, ident in map(split_ref, r.subjects) if kind is RefKind.COMMAND
    }
    commands = commands_by_id(s, command_ids)
    people = {c.requested_by for c in commands.values()}
    people |= {i for k, i in (split_ref(r.actor) for r in rows) if k is RefKind.PERSON}
    roles = RoleLookup(roles_in_homes(s, people, {home_id}), home_id)
    out = []
    for row in rows:
        ids = [i for k, i in map(split_ref, row.subjects) if k is RefKind.COMMAND]
        command = commands.get(ids[0]) if ids else None
        if ids and (command is None or command.action != "unlock"):
            continue
        if not ids and row.action != A.BREAK_GLASS.value:
            continue
        out.append(unlock_audit_event(row, command, roles))
    return out


# -- a deployment of several homes ----------------------------------------------------


def build_homes(db: Database, *, seed: int = 7) -> dict[str, list[str]]:
    """Four homes (one without doors) and a mixed audit log; home id -> its door ids."""
    rnd = random.Random(seed)
    pem = public_key_pem(example_key().public_key()).decode()
    homes: dict[str, list[str]] = {}
    with db.session() as s:
        officer = create_person(s, display_name="Officer", at=T0).id
        for n, door_count in enumerate((2, 1, 1, 0)):
            home = create_home(s, name=f"Home {n}", timezone="Europe/London", at=T0).id
            doors = [f"door-{n}-{d}-{uuid.uuid4().hex[:6]}" for d in range(door_count)]
            for d in doors:
                register_device(
                    s, device_id=d, name="Door", public_key_pem=pem, at=T0, home_id=home
                )
            family = create_person(s, display_name=f"Family {n}", at=T0).id
            add_membership(s, person_id=family, home_id=home, role=Role.FAMILY_MEMBER, at=T0)
            add_membership(s, person_id=officer, home_id=home, role=Role.TELECARE_OFFICER, at=T0)
            homes[home] = doors
        all_doors = [(h, d) for h, ds in homes.items() for d in ds]
        counter = 0
        for i in range(240):
            home, door = rnd.choice(all_doors)
            # mostly inside [T0, T0+4h), with exact edges of the main window, and `at`
            # not always growing with seq (another hub process's clock)
            at = rnd.choice(
                [SINCE, UNTIL, UNTIL - timedelta(microseconds=1), SINCE - timedelta(seconds=1)]
                + [T0 + timedelta(seconds=rnd.randrange(4 * 3600))] * 6
            )
            kind = rnd.choice(["unlock", "unlock", "snapshot", "live_view", "break_glass", "off"])
            dref = device_ref(door)
            if kind == "break_glass":
                box = ref(RefKind.BREAK_GLASS, f"bg{i}")
                append(s, A.BREAK_GLASS, actor=person_ref(officer), at=at, subjects=[dref, box])
                continue
            if kind == "off":  # not an unlock action at all, yet it names the door
                append(
                    s, rnd.choice(OFF_ACTIONS), actor=person_ref(officer), at=at, subjects=[dref]
                )
                continue
            counter += 1
            cid = f"cmd-{i}"
            requester = person_ref(officer if rnd.random() < 0.2 else family)
            if rnd.random() < 0.9:  # a few commands are missing from the table
                create_command(
                    s,
                    command_id=cid,
                    device_id=door,
                    action=kind,
                    counter=counter,
                    requested_by=split_ref(requester)[1],
                    reason="test",
                    at=at,
                )
            details: dict[str, Any] = {"reason": "carer at the door"}
            if rnd.random() < 0.2:
                details["break_glass"] = f"bg{i}"
            subjects = [dref, command_ref(cid)]
            append(
                s, A.UNLOCK_REQUESTED, actor=requester, at=at, subjects=subjects, details=details
            )
            later = at + timedelta(seconds=rnd.randrange(-5, 90))
            append(s, A.COMMAND_SENT, actor="service:hub", at=later, subjects=subjects)
            answer = rnd.choice(
                [A.COMMAND_ACKNOWLEDGED, A.COMMAND_REJECTED, A.COMMAND_TIMED_OUT, None]
            )
            if answer is A.COMMAND_TIMED_OUT:
                append(s, answer, actor="service:hub", at=later, subjects=subjects)
            elif answer is not None:  # the door answers: it is the actor, and a subject too
                again = [command_ref(cid), dref, dref] if rnd.random() < 0.5 else [command_ref(cid)]
                append(s, answer, actor=dref, at=later, subjects=again)
        # an entry naming doors of two homes counts for both; one naming both doors of
        # a home comes once
        for a, b in ((all_doors[0], all_doors[-1]), (all_doors[0], all_doors[1])):
            pair = [device_ref(a[1]), device_ref(b[1])]
            append(s, A.BREAK_GLASS, actor=person_ref(officer), at=SINCE, subjects=pair)
    return homes


# -- (a) the same entries, the same order, the same export -----------------------------


def test_index_read_gives_exactly_what_the_scan_gave(database: Database) -> None:
    homes = build_homes(database)
    nonempty = 0
    with database.read_session() as s:
        for home, door_ids in homes.items():
            doors = {device_ref(d) for d in door_ids}
            for since, until in WINDOWS:
                new = audit_rows_naming_between(s, doors, ACTIONS, since, until)
                assert new == old_rows(s, doors, since, until), (home, since, until)
                assert [r.seq for r in new] == sorted({r.seq for r in new})
                nonempty += bool(new)
        # edges: `since` is in, `until` is out, exactly as audit_rows_between
        every = {device_ref(d) for ds in homes.values() for d in ds}
        edge = audit_rows_naming_between(s, every, ACTIONS, SINCE, UNTIL)
        assert any(r.at == SINCE for r in edge)
        assert not any(r.at == UNTIL for r in edge)
        assert audit_rows_naming_between(s, set(), ACTIONS, SINCE, UNTIL) == []
        assert audit_rows_naming_between(s, every, [], SINCE, UNTIL) == []
    assert nonempty >= 6  # the comparison was not between empty lists


def test_small_batches_keep_chain_order(database: Database) -> None:
    homes = build_homes(database, seed=11)
    with database.read_session() as s:
        every = {device_ref(d) for ds in homes.values() for d in ds}
        whole = audit_rows_naming_between(s, every, ACTIONS, *WINDOWS[1])
        for batch in (1, 2, 7):  # an entry naming two doors still comes once
            assert audit_rows_naming_between(s, every, ACTIONS, *WINDOWS[1], batch=batch) == whole
        assert whole == old_rows(s, every, *WINDOWS[1])


@pytest.mark.parametrize("seed", [7, 12])
def test_fhir_export_is_unchanged(database: Database, seed: int) -> None:
    homes = build_homes(database, seed=seed)
    exported = 0
    with database.read_session() as s:
        for home in homes:
            for since, until in WINDOWS:
                new = unlock_audit_events(s, home, since, until)
                assert new == old_unlock_audit_events(s, home, since, until)
                exported += len(new)
    assert exported > 20
    subtypes = set()
    with database.read_session() as s:
        for home in homes:
            events = unlock_audit_events(s, home, *WINDOWS[1])
            subtypes |= {(e["subtype"][0]["code"], e["subtype"][1]["code"]) for e in events}
    # unlocks, their answers, and break-glass all took part
    assert ("110127", "break_glass") in subtypes
    assert ("110127", "unlock_requested") in subtypes  # an unlock inside a break-glass box
    assert {"command_acknowledged", "command_rejected", "command_timed_out"} <= {
        code for _, code in subtypes
    }


# -- (b) other homes' entries are not read ---------------------------------------------


def test_export_reads_only_this_homes_entries(database: Database) -> None:
    homes = build_homes(database)
    quiet = next(h for h, ds in homes.items() if len(ds) == 1)
    doors = {device_ref(d) for d in homes[quiet]}
    with database.read_session() as s:
        mine = [r.seq for r in old_rows(s, doors, *WINDOWS[1])]
        others = [
            r.seq
            for r in audit_rows_between(s, ACTIONS, *WINDOWS[1])
            if not (doors.intersection(r.subjects) or r.actor in doors)
        ]
    assert mine
    assert len(others) > 3 * len(mine)  # a quiet home in a busy deployment
    with entries_read(database) as (loaded, statements), database.read_session() as s:
        unlock_audit_events(s, quiet, *WINDOWS[1])
    assert sorted(loaded) == mine  # nothing of the other homes was loaded
    # and every read of the entries is by seq (their primary key), seqs from the index
    assert statements
    assert all("audit_entries.seq IN" in sql for sql in statements)


def test_a_home_without_doors_reads_no_entries(database: Database) -> None:
    homes = build_homes(database)
    empty = next(h for h, ds in homes.items() if not ds)
    with entries_read(database) as (loaded, statements), database.read_session() as s:
        assert unlock_audit_events(s, empty, *WINDOWS[1]) == []
    assert loaded == []
    assert statements == []
