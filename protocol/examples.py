"""One valid example of every protocol message, for docs, tests and conformance checks.

>>> [type(m).__name__ for m in example_messages("door-1a2b3c")][:2]
['DeviceStatus', 'DeviceState']
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel

from .audit import AuditCheckpoint, CheckpointStatement
from .commands import (
    AckOutcome,
    CommandAck,
    CueKind,
    IndoorCue,
    SetPrivacy,
    StartLiveView,
    StopLiveView,
    TakeSnapshot,
    UnlockDoor,
)
from .device import DeviceState, DeviceStatus, DoorState, LockState, Sync, Telemetry
from .events import (
    DoorbellRang,
    DoorClosed,
    DoorOpened,
    LockCause,
    LockChanged,
    OutboxOverflowed,
    PrivacyChanged,
    TamperDetected,
    TamperReason,
)
from .signing import sign
from .snapshots import Snapshot, SnapshotMeta

EXAMPLE_TIME = datetime(2026, 11, 25, 9, 0, 12, tzinfo=UTC)
EXAMPLE_BOOT = "5f2c8e1a9b3d7c40"
# A minimal but complete JPEG (SOI ... EOI) so examples need no image library.
EXAMPLE_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e3334"
    "32ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708"
    "090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114"
    "328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748"
    "494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2"
    "a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9"
    "eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def example_events(device: str, start_seq: int = 1) -> list[BaseModel]:
    head = {"device": device, "boot_id": EXAMPLE_BOOT, "at": EXAMPLE_TIME, "monotonic_ms": 81_000}
    return [
        DoorbellRang(id=_uuid(1), seq=start_seq + 1, snapshot_id=_uuid(100), **head),
        DoorOpened(id=_uuid(2), seq=start_seq + 2, **head),
        DoorClosed(id=_uuid(3), seq=start_seq + 3, **head),
        LockChanged(
            id=_uuid(4),
            seq=start_seq + 4,
            state=LockState.RELEASED,
            cause=LockCause.COMMAND,
            command_id=_uuid(200),
            door=DoorState.CLOSED,
            **head,
        ),
        TamperDetected(id=_uuid(5), seq=start_seq + 5, reason=TamperReason.CAMERA_LOST, **head),
        PrivacyChanged(id=_uuid(6), seq=start_seq + 6, privacy=True, **head),
        OutboxOverflowed(
            id=_uuid(7), seq=start_seq + 7, dropped_seqs=[3, 4], reason="bytes", **head
        ),
    ]


def example_snapshot(device: str, seq: int = 1) -> Snapshot:
    meta = SnapshotMeta(
        device=device,
        id=_uuid(100),
        seq=seq,
        boot_id=EXAMPLE_BOOT,
        at=EXAMPLE_TIME,
        monotonic_ms=80_990,
        reason="ring",
        width=1,
        height=1,
        size_bytes=len(EXAMPLE_JPEG),
        sha256=hashlib.sha256(EXAMPLE_JPEG).hexdigest(),
    )
    return Snapshot(meta=meta, jpeg=EXAMPLE_JPEG)


def example_commands(device: str, v: int = 1) -> list[BaseModel]:
    """One command of every action, in schema version ``v`` (1 or 2: the same fields)."""
    head = {
        "v": v,
        "device": device,
        "issued_at": EXAMPLE_TIME,
        "expires_at": EXAMPLE_TIME + timedelta(seconds=20),
        "boot_id": EXAMPLE_BOOT,
        "not_after_monotonic_ms": 101_000,
        "requested_by": "person-42",
    }
    return [
        UnlockDoor(id=_uuid(200), counter=17, hold_s=5, **head),
        TakeSnapshot(id=_uuid(201), counter=18, **head),
        StartLiveView(id=_uuid(202), counter=19, duration_s=60, interval_ms=500, **head),
        StopLiveView(id=_uuid(203), counter=20, **head),
        SetPrivacy(id=_uuid(204), counter=21, privacy=True, **head),
        IndoorCue(id=_uuid(205), counter=22, cue=CueKind.CARER_AT_DOOR, who="Sam", **head),
    ]


def example_ack(device: str, v: int = 1) -> CommandAck:
    """The answer to the example unlock; in v2 it says when the door re-locks (its hold_s)."""
    newer = {"relock_in_s": 5.0} if v >= 2 else {}
    return CommandAck(
        v=v,
        device=device,
        command_id=_uuid(200),
        action="unlock",
        outcome=AckOutcome.EXECUTED,
        lock=LockState.RELEASED,
        counter=17,
        boot_id=EXAMPLE_BOOT,
        at=EXAMPLE_TIME,
        monotonic_ms=81_010,
        **newer,
    )


def example_checkpoint(device: str) -> AuditCheckpoint:
    """A checkpoint of an audit log at entry 10412, signed with ``example_key()``."""
    statement = CheckpointStatement(seq=10_412, hash="3f" * 32, at=EXAMPLE_TIME)
    return AuditCheckpoint(
        device=device, checkpoint=sign(statement, example_key()), at=EXAMPLE_TIME
    )


def example_messages(device: str) -> list[BaseModel]:
    """Every unsigned message kind once (commands and acks are signed: see the helpers)."""
    return [
        DeviceStatus(
            device=device, online=True, boot_id=EXAMPLE_BOOT, since=EXAMPLE_TIME, monotonic_ms=1_200
        ),
        DeviceState(
            device=device,
            lock=LockState.ENGAGED,
            door=DoorState.CLOSED,
            boot_id=EXAMPLE_BOOT,
            at=EXAMPLE_TIME,
            seq=4,
        ),
        Telemetry(
            device=device,
            boot_id=EXAMPLE_BOOT,
            at=EXAMPLE_TIME,
            monotonic_ms=90_000,
            clock_synced=True,
            uptime_s=90,
            software_version="0.1.0",
            cpu_temp_c=48.2,
            disk_free_bytes=12_000_000_000,
            outbox_depth=0,
            last_seq=8,
            command_counter=17,
        ),
        Sync(device=device, stored_through=8, at=EXAMPLE_TIME),
        example_checkpoint(device),
        *example_events(device),
        example_snapshot(device),
    ]


def example_key() -> Ed25519PrivateKey:
    """A throwaway key for examples only; never used by a deployment."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"doorstep example").digest())
