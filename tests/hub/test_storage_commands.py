"""Command counters (unique under concurrency) and the command lifecycle."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest

from hub.errors import InvalidTransition, UnknownCommand
from hub.storage import (
    CommandStatus,
    Database,
    allocate_command_counter,
    count_rejected,
    create_command,
    get_command,
    mark_failed,
    mark_sent,
    mark_unknown,
    open_commands,
    record_ack,
)
from protocol.commands import AckOutcome
from tests.fixtures.database import T0, run_threads


def _new_command(db: Database, device: str) -> str:
    cid = str(uuid.uuid4())
    with db.session() as s:
        n = allocate_command_counter(s, device)
        create_command(
            s,
            command_id=cid,
            device_id=device,
            action="unlock",
            counter=n,
            requested_by="person:p1",
            reason="carer at the door",
            at=T0,
            expires_at=T0 + timedelta(seconds=20),
        )
    return cid


def test_counters_grow_and_respect_the_device_floor(database: Database, device_id) -> None:
    with database.session() as s:
        got = [allocate_command_counter(s, device_id) for _ in range(3)]
        assert got == [1, 2, 3]
        # The device reported it accepted 41 (e.g. the hub was restored from a backup).
        assert allocate_command_counter(s, device_id, at_least=41) == 42
        assert allocate_command_counter(s, device_id, at_least=5) == 43


def test_counters_are_unique_across_concurrent_hubs(database: Database, device_id) -> None:
    hubs = [Database(database.url) for _ in range(4)]
    got: list[int] = []
    lock = threading.Lock()

    def allocate(i: int) -> None:
        for _ in range(25):
            with hubs[i].session() as s:
                n = allocate_command_counter(s, device_id)
            with lock:
                got.append(n)

    errors = run_threads(allocate, len(hubs))
    for hub in hubs:
        hub.dispose()
    assert errors == []
    assert sorted(got) == list(range(1, 101))


def test_acknowledged_lifecycle(database: Database, device_id) -> None:
    cid = _new_command(database, device_id)
    with database.session() as s:
        assert get_command(s, cid).status is CommandStatus.REQUESTED
        assert mark_sent(s, cid, T0)
        assert not mark_sent(s, cid, T0)  # only once
        cmd = record_ack(
            s, cid, outcome=AckOutcome.EXECUTED, at=T0, payload="{}", signature="sig", key_id="k"
        )
        assert (cmd.status, cmd.ack_signature) == (CommandStatus.ACKNOWLEDGED, "sig")
        # The same ack delivered twice changes nothing; a different one is refused.
        record_ack(
            s, cid, outcome=AckOutcome.EXECUTED, at=T0, payload="{}", signature="sig", key_id="k"
        )
        with pytest.raises(InvalidTransition, match="acknowledged already"):
            record_ack(
                s,
                cid,
                outcome=AckOutcome.REJECTED,
                at=T0,
                payload="{}",
                signature="x",
                key_id="k",
                reject_reason="expired",
            )
        assert not mark_unknown(s, cid, T0)


def test_rejected_commands_are_counted(database: Database, device_id) -> None:
    for _ in range(2):
        cid = _new_command(database, device_id)
        with database.session() as s:
            mark_sent(s, cid, T0)
            cmd = record_ack(
                s,
                cid,
                outcome=AckOutcome.REJECTED,
                at=T0,
                payload="{}",
                signature=cid,
                key_id="k",
                reject_reason="counter_replayed",
            )
            assert (cmd.status, cmd.reject_reason) == (CommandStatus.REJECTED, "counter_replayed")
    with database.read_session() as s:
        assert count_rejected(s, device_id, since=T0 - timedelta(minutes=1)) == 2
        assert count_rejected(s, device_id, since=T0 + timedelta(minutes=1)) == 0


def test_timeout_is_unknown_and_a_late_ack_still_tells_the_truth(database, device_id) -> None:
    cid = _new_command(database, device_id)
    with database.session() as s:
        mark_sent(s, cid, T0)
        assert [c.id for c in open_commands(s, created_before=T0 + timedelta(seconds=30))] == [cid]
        assert mark_unknown(s, cid, T0 + timedelta(seconds=30))
        assert get_command(s, cid).status is CommandStatus.UNKNOWN
        assert open_commands(s, created_before=T0 + timedelta(seconds=30)) == []
        late = record_ack(
            s, cid, outcome=AckOutcome.EXECUTED, at=T0, payload="{}", signature="s", key_id="k"
        )
        assert late.status is CommandStatus.ACKNOWLEDGED


def test_send_failure_and_unknown_ids(database, device_id) -> None:
    cid = _new_command(database, device_id)
    with database.session() as s:
        assert mark_failed(s, cid, T0, "broker unreachable")
        assert get_command(s, cid).status is CommandStatus.FAILED
        with pytest.raises(UnknownCommand):
            mark_sent(s, str(uuid.uuid4()), T0)
