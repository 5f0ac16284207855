"""Builds this device's protocol messages with the right header (id, seq, boot, times).

>>> make = MessageFactory("door-1a2b3c", AgentClock())
>>> make.event(DoorOpened, seq=7).seq
7
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from protocol.base import SCHEMA_VERSION
from protocol.commands import AckOutcome, CommandAck, RejectReason
from protocol.device import DeviceState, DeviceStatus, DoorState, LockState
from protocol.events import EventBase
from protocol.ids import new_message_id
from protocol.snapshots import Snapshot, SnapshotMeta

from .clock import AgentClock

E = TypeVar("E", bound=EventBase)


class MessageFactory:
    def __init__(self, device_id: str, clock: AgentClock) -> None:
        self.device_id = device_id
        self.clock = clock

    def event(self, cls: type[E], seq: int, **fields: Any) -> E:
        return cls(
            device=self.device_id,
            id=fields.pop("id", None) or new_message_id(),
            seq=seq,
            boot_id=self.clock.boot_id,
            at=fields.pop("at", None) or self.clock.now(),
            monotonic_ms=fields.pop("monotonic_ms", None) or self.clock.monotonic_ms(),
            **fields,
        )

    def snapshot(
        self,
        jpeg: bytes,
        seq: int,
        *,
        snapshot_id: str,
        width: int,
        height: int,
        reason: str,
        event_id: str | None = None,
        command_id: str | None = None,
    ) -> Snapshot:
        meta = SnapshotMeta(
            device=self.device_id,
            id=snapshot_id,
            seq=seq,
            boot_id=self.clock.boot_id,
            at=self.clock.now(),
            monotonic_ms=self.clock.monotonic_ms(),
            reason=reason,  # type: ignore[arg-type]
            event_id=event_id,
            command_id=command_id,
            width=width,
            height=height,
            size_bytes=len(jpeg),
            sha256=hashlib.sha256(jpeg).hexdigest(),
        )
        return Snapshot(meta=meta, jpeg=jpeg)

    def status(self, online: bool) -> DeviceStatus:
        return DeviceStatus(
            device=self.device_id,
            online=online,
            boot_id=self.clock.boot_id,
            since=self.clock.now(),
            monotonic_ms=self.clock.monotonic_ms(),
        )

    def state(self, lock: LockState, door: DoorState, privacy: bool, seq: int) -> DeviceState:
        return DeviceState(
            device=self.device_id,
            lock=lock,
            door=door,
            privacy=privacy,
            boot_id=self.clock.boot_id,
            at=self.clock.now(),
            seq=seq,
        )

    def ack(
        self,
        *,
        v: int = SCHEMA_VERSION,
        command_id: str | None,
        action: str | None,
        outcome: AckOutcome,
        lock: LockState,
        counter: int,
        reason: RejectReason | None = None,
        detail: str = "",
        relock_in_s: float | None = None,
    ) -> CommandAck:
        """An answer in schema version ``v`` (the command's); ``relock_in_s`` only from v2."""
        # A v1 ack must not carry the field at all, not even as null: a v1 hub refuses it.
        newer = {"relock_in_s": relock_in_s} if v >= 2 else {}
        return CommandAck(
            v=v,
            device=self.device_id,
            command_id=command_id,
            action=action,
            outcome=outcome,
            reason=reason,
            detail=detail[:500],
            lock=lock,
            counter=counter,
            boot_id=self.clock.boot_id,
            at=self.clock.now(),
            monotonic_ms=self.clock.monotonic_ms(),
            **newer,
        )
