"""What a front door's agent must survive: a full or read-only disk, a failing relay,
a camera that dies mid-ring, a wall clock that jumps. Faults are injected at the
hardware or SQLite boundary; everything else is real (broker, board, outbox file)."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.agent import AgentOptions, EdgeAgent
from edge.outbox import Outbox
from firmware_config.broker_config import refresh
from hardware.errors import HardwareError
from hardware.simulated import SimulatedBoard
from protocol import (
    AckOutcome,
    DoorbellRang,
    DoorClosed,
    DoorOpened,
    LockChanged,
    LockState,
    RejectReason,
    TakeSnapshot,
    utcnow,
)
from protocol.events import EventBase, TamperDetected, TamperReason
from protocol.mqtt import LinkSettings, TlsFiles
from tests.edge.rig import Rig
from tests.fixtures.tls_broker import RawClient, start_tls_broker


class FailingDisk:
    """The outbox's SQLite connection on a disk that has filled up: every write to the
    tables named in ``tables`` fails the way SQLite reports it; reads still work."""

    def __init__(self, db: sqlite3.Connection, tables: tuple[str, ...]) -> None:
        self.db = db
        self.tables = tables
        self.full = True

    def _check(self, sql: str) -> None:
        write = re.match(r"\s*(?:INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", sql, re.IGNORECASE)
        if self.full and write and write[1] in self.tables:
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self.db.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._check(sql)
        return self.db.executemany(sql, *args)


def fill_disk(rig: Rig, monkeypatch, tables=("outbox", "state", "seen_commands")) -> FailingDisk:
    disk = FailingDisk(rig.agent.outbox._db, tables)
    monkeypatch.setattr(rig.agent.outbox, "_db", disk)
    return disk


def _seqs(rig: Rig) -> list[int]:
    return [m.seq for m in rig.view.messages if isinstance(m, EventBase)]


# -- 1. the outbox cannot be written -------------------------------------------------


def test_unlock_is_refused_when_its_counter_cannot_be_stored(rig, monkeypatch):
    fill_disk(rig, monkeypatch)
    rig.send(rig.command())
    acks = rig.wait_acks(1)
    assert len(acks) == 1, "the hub must hear why nothing happened"
    assert acks[0].outcome is AckOutcome.REJECTED
    assert acks[0].reason is RejectReason.HARDWARE_FAULT
    assert "full" in acks[0].detail
    assert acks[0].lock is LockState.ENGAGED
    time.sleep(0.1)
    assert rig.board.relay_changes == [], "an unrecorded counter must never move the lock"


def test_a_lock_change_that_cannot_be_recorded_still_relocks_on_time(rig, monkeypatch):
    # The counter is stored, then the disk fills before the lock change is written.
    disk = fill_disk(rig, monkeypatch, tables=("outbox",))
    before = rig.agent.outbox.last_seq
    rig.send(rig.command(hold_s=0.3))
    ack = rig.wait_acks(1)[0]
    assert ack.outcome is AckOutcome.EXECUTED
    deadline = time.monotonic() + 3
    while rig.board.relay_energised or len(rig.board.relay_changes) < 2:
        assert time.monotonic() < deadline, "the lock was left released"
        time.sleep(0.01)
    held = rig.board.relay_changes[1][0] - rig.board.relay_changes[0][0]
    # The service's own timer, not the driver's backstop one second later.
    assert held < 0.9
    # Room again: the two lock changes are recorded and reach the hub, in order.
    time.sleep(0.1)  # the re-lock's report comes just after the relay moved
    disk.full = False
    rig.board.open_door()
    msgs = rig.view.wait(lambda ms: any(isinstance(m, DoorOpened) for m in ms))
    changes = [(m.state, m.cause.value) for m in msgs if isinstance(m, LockChanged)]
    assert changes[-2:] == [(LockState.RELEASED, "command"), (LockState.ENGAGED, "relock_timer")]
    assert _seqs(rig)[-3:] == [before + 1, before + 2, before + 3]


def test_events_on_a_full_disk_are_kept_reported_and_sent_when_there_is_room(
    rig, monkeypatch, caplog
):
    disk = fill_disk(rig, monkeypatch)
    before = rig.agent.outbox.last_seq
    depth = rig.agent.outbox.stats()[0]
    rig.board.visitor = True
    with caplog.at_level(logging.WARNING, logger="edge"):
        rig.board.ring()
        rig.board.open_door()
        rig.board.close_door()
        assert rig.agent.alive()
    assert any("outbox" in r.message and "full" in r.message for r in caplog.records), (
        "a clear log line says events cannot be stored"
    )
    assert rig.agent.outbox.last_seq == before
    assert rig.agent.alive(), "the agent keeps running"
    assert rig.agent.telemetry.snapshot().outbox_depth == depth + 4, "the heartbeat shows them"
    time.sleep(0.2)
    room_again = utcnow()
    disk.full = False
    rig.agent.telemetry.send_now()  # the heartbeat retries the write
    msgs = rig.view.wait(lambda ms: any(isinstance(m, DoorClosed) for m in ms))
    kinds = [type(m) for m in msgs if isinstance(m, DoorbellRang | DoorOpened | DoorClosed)]
    assert kinds == [DoorbellRang, DoorOpened, DoorClosed], "nothing lost, in order"
    ring = rig.view.of(DoorbellRang)[0]
    assert ring.snapshot_id is not None, "the ring keeps its picture"
    opened = rig.view.of(DoorOpened)[0]
    assert ring.at <= opened.at < room_again - timedelta(seconds=0.1), "times are when it happened"
    assert rig.agent.outbox.last_seq == before + 4  # snapshot, ring, open, close


def test_a_snapshot_request_on_a_full_disk_is_answered_as_failed(rig, monkeypatch):
    # The counter still fits (a few bytes in a page SQLite has); the picture does not.
    fill_disk(rig, monkeypatch, tables=("outbox",))
    rig.send(rig.command(TakeSnapshot))
    acks = rig.wait_acks(1)
    assert [a.outcome for a in acks] == [AckOutcome.FAILED]
    assert acks[0].reason is RejectReason.HARDWARE_FAULT
    assert "full" in acks[0].detail


# -- 2. the camera fails mid-ring -------------------------------------------------


def test_a_ring_while_the_camera_fails_goes_out_without_a_picture(rig):
    rig.board.cut_camera()
    time.sleep(0.1)
    rig.agent.frames._stills.clear()  # no recent picture to fall back on
    rig.board.ring()
    msgs = rig.view.wait(lambda ms: any(isinstance(m, DoorbellRang) for m in ms))
    ring = next(m for m in msgs if isinstance(m, DoorbellRang))
    assert ring.snapshot_id is None
    tamper = rig.view.wait(lambda ms: any(isinstance(m, TamperDetected) for m in ms))
    assert [m.reason for m in tamper if isinstance(m, TamperDetected)] == [TamperReason.CAMERA_LOST]


# -- 3. the relay driver raises -----------------------------------------------------


def _broken(*_a: Any, **_k: Any) -> None:
    raise HardwareError("GPIO17: write failed (EIO)")


def test_relay_that_fails_to_release_is_answered_as_failed(rig, monkeypatch):
    monkeypatch.setattr(rig.board.lock, "release", _broken)
    rig.send(rig.command())
    ack = rig.wait_acks(1)[0]
    assert ack.outcome is AckOutcome.FAILED
    assert ack.reason is RejectReason.HARDWARE_FAULT
    assert "EIO" in ack.detail
    assert ack.lock is LockState.ENGAGED
    assert not rig.board.relay_energised


def test_relay_that_fails_both_ways_is_reported_jammed_never_engaged(rig, monkeypatch):
    monkeypatch.setattr(rig.board.lock, "release", _broken)
    monkeypatch.setattr(rig.board.lock, "engage", _broken)
    rig.send(rig.command())
    ack = rig.wait_acks(1)[0]
    assert ack.outcome is AckOutcome.FAILED
    assert ack.lock is LockState.JAMMED, "a lock that could not be engaged is not 'engaged'"
    msgs = rig.view.wait(
        lambda ms: any(isinstance(m, LockChanged) and m.state is LockState.JAMMED for m in ms)
    )
    assert [m.state for m in msgs if isinstance(m, LockChanged)][-1] is LockState.JAMMED
    assert rig.board.indicator.current.value == "fault"


def test_relay_that_fails_to_relock_is_reported_jammed(rig, monkeypatch):
    real_engage = rig.board.lock.engage
    rig.send(rig.command(hold_s=0.2))
    assert rig.wait_acks(1)[0].outcome is AckOutcome.EXECUTED
    monkeypatch.setattr(rig.board.lock, "engage", _broken)
    msgs = rig.view.wait(
        lambda ms: any(isinstance(m, LockChanged) and m.state is LockState.JAMMED for m in ms)
    )
    jammed = [m for m in msgs if isinstance(m, LockChanged) and m.state is LockState.JAMMED]
    assert jammed
    assert jammed[0].cause.value == "fault"
    deadline = time.monotonic() + 2  # the light follows the report
    while rig.board.indicator.current.value != "fault" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rig.board.indicator.current.value == "fault", "never the 'unlocking' light"
    monkeypatch.setattr(rig.board.lock, "engage", real_engage)


# -- 4. the wall clock jumps (no RTC) ---------------------------------------------


@pytest.mark.parametrize("jump", [timedelta(days=-400), timedelta(days=30)])
def test_wall_clock_jumps_change_neither_freshness_nor_the_relock(rig, monkeypatch, jump):
    command = rig.command(hold_s=0.3)
    real_time = time.time
    monkeypatch.setattr(rig.agent.clock, "_wall", lambda: utcnow() + jump)
    monkeypatch.setattr(time, "time", lambda: real_time() + jump.total_seconds())
    rig.send(command)
    ack = rig.wait_acks(1)[0]
    assert ack.outcome is AckOutcome.EXECUTED, ack.detail
    deadline = time.monotonic() + 3
    while len(rig.board.relay_changes) < 2:
        assert time.monotonic() < deadline, "the re-lock never came"
        time.sleep(0.01)
    held = rig.board.relay_changes[1][0] - rig.board.relay_changes[0][0]
    assert 0.25 <= held <= 0.9


# -- 5. the broker refuses the door (revoked) -------------------------------------


def _connects(broker: Any, tls: TlsFiles) -> bool:
    probe = RawClient(broker.host, broker.port, tls, client_id="probe")
    try:
        return probe.connect(timeout=3)
    finally:
        probe.close()


@pytest.mark.timeout(120)
def test_a_revoked_door_says_why_backs_off_and_keeps_recording(tmp_path, caplog):
    with start_tls_broker(devices=1) as broker:
        device = broker.devices[0]
        files = broker.tls(device)
        # Removing the door deletes its bundle: keep a copy, as the Pi would.
        kept = TlsFiles(
            *(Path(shutil.copy(p, tmp_path)) for p in (files.ca, files.cert, files.key))
        )
        broker.deployment.remove_device(device)
        refresh(broker.deployment, broker.process)
        deadline = time.monotonic() + 5
        while _connects(broker, kept) and time.monotonic() < deadline:
            time.sleep(0.1)  # until the broker has reloaded its CRL
        board = SimulatedBoard(travel_s=0.01)
        agent = EdgeAgent(
            device,
            replace(board.hardware, camera=None),
            LinkSettings(host=broker.host, port=broker.port, client_id=device, tls=kept),
            Outbox(tmp_path / "outbox.sqlite"),
            Ed25519PrivateKey.generate().public_key(),
            Ed25519PrivateKey.generate(),
            AgentOptions(hold_s=0.3, cooldown_s=0.1, heartbeat_s=3600),
        )
        attempts: list[int] = []
        client = agent.link._client
        # Refused in the TLS handshake or just after it (TLS 1.3): either callback.
        for name in ("on_connect_fail", "on_disconnect"):
            real = getattr(client, name)
            setattr(client, name, lambda *a, real=real: (attempts.append(1), real(*a)))
        try:
            caplog.set_level(logging.INFO)
            agent.start()
            cpu = time.process_time()
            time.sleep(4)
            used = time.process_time() - cpu
            assert not agent.link.connected
            assert 1 <= len(attempts) <= 5, f"{len(attempts)} connection attempts in 4 s"
            assert used < 1.0, f"{used:.2f} s of CPU while refused"
            said = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(said) == 1, "one clear line per outage, not one per attempt"
            assert "certificate" in said[0].getMessage()
            before = agent.outbox.last_seq
            board.ring()
            board.open_door()
            deadline = time.monotonic() + 3
            while agent.outbox.last_seq < before + 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert agent.outbox.last_seq == before + 2, "events are still recorded"
            assert not board.relay_energised
        finally:
            agent.stop()
            board.close()
