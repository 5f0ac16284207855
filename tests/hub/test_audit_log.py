"""Appending to the audit log: the chain, refused entries, concurrency, checkpoints, export."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit import (
    GENESIS_HASH,
    AuditAction,
    NewEntry,
    append,
    append_many,
    canonical,
    checkpoint_if_due,
    checkpoint_overdue,
    command_ref,
    device_ref,
    dump_checkpoints,
    entries,
    entry,
    entry_json,
    fhir_audit_event,
    head,
    make_checkpoint,
    open_checkpoint,
    parse_checkpoints,
    person_ref,
    stored_checkpoints,
    verify,
)
from hub.errors import CheckpointError, InvalidAuditEntry
from hub.storage import Database
from hub.storage.audit_rows import AuditRow
from protocol.errors import SignatureInvalid
from tests.fixtures.database import T0, run_threads

A = AuditAction


def test_entries_chain_by_hash_of_canonical_form(database: Database) -> None:
    with database.session() as s:
        first = append(s, A.LOGIN, actor=person_ref("p1"), at=T0)
        second = append(
            s,
            A.UNLOCK_REQUESTED,
            actor=person_ref("p1"),
            at=T0 + timedelta(seconds=1),
            subjects=[device_ref("door-abc"), command_ref("c-1")],
            details={"reason": "carer at the door", "hold_s": 5.5, "ok": True, "n": None},
        )
    with database.read_session() as s:
        stored = list(entries(s))
        assert head(s) == (2, second.hash)
        assert entry(s, 1) == first
    assert stored == [first, second]
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    # The hash is SHA-256 of sorted, compact JSON of every field but the hash.
    expected = json.dumps(
        {
            "action": "unlock_requested",
            "actor": "person:p1",
            "at": "2026-11-25T09:00:01.000000+00:00",
            "details": {"hold_s": 5.5, "n": None, "ok": True, "reason": "carer at the door"},
            "prev_hash": first.hash,
            "seq": 2,
            "subjects": ["device:door-abc", "command:c-1"],
        },
        separators=(",", ":"),
    ).encode()
    assert (
        canonical(
            seq=2,
            at=second.at,
            actor=second.actor,
            action=second.action,
            subjects=second.subjects,
            details=second.details,
            prev_hash=second.prev_hash,
        )
        == expected
    )
    assert second.hash == hashlib.sha256(expected).hexdigest()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "opened_door"}, "unknown audit action"),
        ({"actor": "Anna Smith"}, "is not 'kind:id'"),
        ({"actor": "spy:007"}, "is not 'kind:id'"),
        ({"subjects": "device:door-abc"}, "list of references"),
        ({"details": {"when": T0}}, "plain JSON"),
        ({"details": {"x": float("nan")}}, "plain JSON"),
        ({"at": T0.replace(tzinfo=None)}, "no time zone"),
    ],
)
def test_bad_entries_are_refused(database: Database, kwargs: dict, message: str) -> None:
    args = {"action": A.LOGIN, "actor": "person:p1", "at": T0} | kwargs
    action = args.pop("action")
    with pytest.raises(InvalidAuditEntry, match=message), database.session() as s:
        append(s, action, **args)
    with database.read_session() as s:
        assert head(s) == (0, GENESIS_HASH)


def test_concurrent_appends_from_several_hubs_keep_one_chain(database: Database) -> None:
    hubs = [Database(database.url) for _ in range(4)]

    def write(i: int) -> None:
        for n in range(25):
            with hubs[i].session() as s:
                append(s, A.LOGIN, actor=person_ref(f"p{i}"), at=T0, details={"n": n})

    errors = run_threads(write, len(hubs))
    for hub in hubs:
        hub.dispose()
    assert errors == []
    key = Ed25519PrivateKey.generate()
    report = verify(database, [], key.public_key())
    assert report.ok, report.summary()
    assert (report.entries, report.head_seq) == (100, 100)


def test_rolled_back_append_leaves_no_trace(database: Database) -> None:
    def unlock_that_fails() -> None:
        with database.session() as s:
            append(s, A.LOGIN, actor="person:p1", at=T0)
            raise RuntimeError("the business change failed")

    with pytest.raises(RuntimeError):
        unlock_that_fails()
    with database.session() as s:
        assert append(s, A.LOGIN, actor="person:p1", at=T0).seq == 1


def test_checkpoints_sign_the_head_and_travel_as_json(database: Database) -> None:
    key = Ed25519PrivateKey.generate()
    with database.session() as s:
        assert checkpoint_overdue(s, now=T0, after_s=60)
        append_many(s, [NewEntry(A.LOGIN, "person:p1", T0) for _ in range(3)])
        made = checkpoint_if_due(s, key, now=T0, interval_s=60)
        assert made is not None
        assert checkpoint_if_due(s, key, now=T0 + timedelta(seconds=59), interval_s=60) is None
        assert not checkpoint_overdue(s, now=T0 + timedelta(seconds=59), after_s=60)
        append(s, A.UNLOCK_REQUESTED, actor="person:p1", at=T0)
        on_demand = make_checkpoint(s, key, now=T0 + timedelta(seconds=1))
        head_seq, head_hash = head(s)
    assert (made.statement.seq, on_demand.statement.seq) == (3, 4)
    assert on_demand.statement.hash == head_hash
    with database.read_session() as s:
        kept = stored_checkpoints(s)
    text = dump_checkpoints(kept)
    parsed = parse_checkpoints(text)
    assert parsed == kept
    assert parse_checkpoints(on_demand.envelope.model_dump_json()) == [on_demand.envelope]
    statement = open_checkpoint(parsed[-1], [key.public_key()])
    assert (statement.seq, statement.hash) == (head_seq, head_hash)
    with pytest.raises(SignatureInvalid, match="none of the given keys"):
        open_checkpoint(parsed[-1], [Ed25519PrivateKey.generate().public_key()])
    with pytest.raises(CheckpointError, match="not JSON"):
        parse_checkpoints("checkpoints: many")
    report = verify(database, parsed, key.public_key())
    assert report.ok, report.summary()
    assert (report.checkpoints_valid, report.newest_checkpoint_seq) == (2, 4)


def test_entry_exports_as_json_and_fhir_audit_event(database: Database) -> None:
    with database.session() as s:
        row = append(
            s,
            A.COMMAND_REJECTED,
            actor="device:door-abc",
            at=T0,
            subjects=[person_ref("p1"), command_ref("c-9")],
            details={"reason": "counter_replayed"},
        )
    doc = entry_json(row)
    assert doc["hash"] == row.hash
    assert doc["at"] == "2026-11-25T09:00:00.000000+00:00"
    fhir = fhir_audit_event(row)
    assert fhir["resourceType"] == "AuditEvent"
    assert fhir["id"] == "doorstep-audit-1"
    assert fhir["recorded"] == doc["at"]
    assert fhir["outcome"] == "4"  # a rejection is a minor failure
    assert fhir["action"] == "E"
    assert {"system": "urn:doorstep:audit-action", "code": "command_rejected"} in fhir["subtype"]
    assert fhir["agent"] == [
        {
            "who": {"identifier": {"system": "urn:doorstep:ref:device", "value": "door-abc"}},
            "requestor": True,
        }
    ]
    assert fhir["source"]["observer"] == {"display": "doorstep-hub"}
    whats = [e["what"]["identifier"]["value"] for e in fhir["entity"]]
    assert whats == ["p1", "c-9", "1"]
    assert fhir["entity"][0]["type"]["code"] == "1"  # a person
    chain = {d["type"]: d for d in fhir["entity"][-1]["detail"]}
    assert chain["hash"]["valueString"] == row.hash
    assert json.loads(base64.b64decode(chain["details"]["valueBase64Binary"])) == row.details


@pytest.mark.parametrize("action", list(AuditAction))
def test_every_action_has_a_fhir_mapping(action: AuditAction) -> None:
    row = AuditRow(1, T0, "service:hub", action.value, (), {}, GENESIS_HASH, "ab" * 32)
    fhir = fhir_audit_event(row)
    assert fhir["type"]["system"] == "http://dicom.nema.org/resources/ontology/DCM"
    assert fhir["action"] in {"C", "R", "U", "D", "E"}
    assert fhir["subtype"][-1]["code"] == action.value


def test_verify_sees_one_snapshot_while_hubs_keep_appending(database: Database) -> None:
    key = Ed25519PrivateKey.generate()
    with database.session() as s:
        append_many(s, [NewEntry(A.LOGIN, "person:p1", T0) for _ in range(3000)])
    writer = Database(database.url)
    stop, appending = threading.Event(), threading.Event()

    def keep_appending() -> None:
        while not stop.is_set():
            with writer.session() as s:
                append(s, A.LOGIN, actor="person:p2", at=T0)
            appending.set()

    thread = threading.Thread(target=keep_appending)
    thread.start()
    try:
        # Verify only once the writer is going (its first connection can be slow to
        # come), so the runs below really overlap its appends.
        assert appending.wait(30)
        reports = [verify(database, [], key.public_key()) for _ in range(3)]
    finally:
        stop.set()
        thread.join(30)
        writer.dispose()
    assert [r.problems for r in reports] == [(), (), ()]
    assert reports[-1].entries > 3000  # the appends did interleave
