"""One handler per kind of device message: store it, update the registry, raise or
resolve alerts, and say what the rest of the hub should hear. No paho, no SQL.

Every handler is idempotent by (device, seq) or by "newest wins", so the same
message handled twice, or by two hub processes, changes nothing the second time.

    >>> ctx = HandlerContext(session, files, received_at=utcnow())       # doctest: +SKIP
    >>> on_events(ctx, events); handler_for(status)(ctx, status)          # doctest: +SKIP
    >>> ctx.notices, ctx.sync_devices                                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from protocol.device import DeviceState, DeviceStatus, LockState, Telemetry
from protocol.events import (
    DoorbellRang,
    DoorClosed,
    DoorOpened,
    EventBase,
    LockChanged,
    OutboxOverflowed,
    PrivacyChanged,
    TamperDetected,
    TamperReason,
)
from protocol.snapshots import Snapshot

from .bus import Notice
from .storage import (
    raise_alert,
    record_state,
    record_status,
    resolve_open_alert,
    set_health,
)
from .storage.alerts import open_alert_scopes
from .storage.devices import get_device, not_online, record_telemetries
from .storage.events import StoreOutcome, store_events
from .storage.models_commands import AlertKind
from .storage.models_registry import DeviceHealth
from .storage.privacy import record_reported_privacy
from .storage.snapshot_files import SnapshotFiles
from .storage.snapshots import store_snapshot


class RingPictures:
    """The last few ring snapshots' JPEG bytes by snapshot id, oldest dropped first."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._jpegs: dict[str, bytes] = {}

    def put(self, snapshot_id: str, jpeg: bytes) -> None:
        self._jpegs[snapshot_id] = jpeg
        while len(self._jpegs) > self.keep:
            del self._jpegs[next(iter(self._jpegs))]

    def take(self, snapshot_id: str | None) -> bytes | None:
        return self._jpegs.pop(snapshot_id, None) if snapshot_id else None


@dataclass
class HandlerContext:
    session: Session
    files: SnapshotFiles
    received_at: datetime
    low_disk_bytes: int = 200_000_000
    notices: list[Notice] = field(default_factory=list)
    sync_devices: dict[str, int] = field(default_factory=dict)
    # Highest seq seen per device in this batch: if the mark stays below it, ingest
    # looks again later (another hub may have stored the missing ones meanwhile).
    max_seq: dict[str, int] = field(default_factory=dict)
    # Run by ingest once the batch is committed (e.g. wake whoever waits on a command).
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    homes: dict[str, str | None] = field(default_factory=dict)
    # Recent ring pictures by snapshot id (owned by ingest, outlives the batch): the door
    # sends the picture just before its ring, so the ring notice can carry it ("jpeg").
    pictures: RingPictures | None = None

    def notify(self, kind: str, device_id: str, **data: Any) -> None:
        if device_id not in self.homes:
            self.homes[device_id] = get_device(self.session, device_id).home_id
        home = self.homes[device_id]
        self.notices.append(Notice(kind, device_id, data, home, self.received_at))

    def alert(self, kind: AlertKind, device_id: str, **details: Any) -> None:
        alert, new = raise_alert(
            self.session, kind, at=self.received_at, device_id=device_id, details=details
        )
        if new:
            self.notify("alert", device_id, alert_id=alert.id, alert=kind.value, **details)

    def resolve(self, kind: AlertKind, device_id: str) -> None:
        resolve_open_alert(self.session, kind, device_id, at=self.received_at)


def on_status(ctx: HandlerContext, status: DeviceStatus) -> None:
    changed = record_status(ctx.session, status, ctx.received_at)
    if status.online:
        ctx.resolve(AlertKind.DEVICE_OFFLINE, status.device)
    else:
        ctx.alert(AlertKind.DEVICE_OFFLINE, status.device, cause="connection lost (last will)")
    if changed:
        ctx.notify("presence", status.device, online=status.online)


def on_state(ctx: HandlerContext, state: DeviceState) -> None:
    if record_state(ctx.session, state, ctx.received_at):
        ctx.notify(
            "state",
            state.device,
            lock=state.lock.value,
            door=state.door.value,
            privacy=state.privacy,
            at=state.at.isoformat(),
        )


def on_telemetry(ctx: HandlerContext, telemetry: Telemetry) -> None:
    on_heartbeats(ctx, [(telemetry, ctx.received_at)])


def on_heartbeats(ctx: HandlerContext, heartbeats: list[tuple[Telemetry, datetime]]) -> None:
    """A batch's heartbeats (each with its receive time) in a handful of statements.

    A fleet of 100,000 doors sends ~1,700 a second: the registry takes them in one
    executemany; only devices that were not online, and only low-disk alerts that
    change, cost anything more.
    """
    record_telemetries(ctx.session, heartbeats)
    newest = {t.device: (t, at) for t, at in heartbeats}
    for device, changed_at in not_online(ctx.session, list(newest)).items():
        # A heartbeat is proof of life: a device marked degraded / offline is back;
        # unless it was received before that mark (e.g. a last will handled meanwhile).
        ctx.received_at = newest[device][1]
        if changed_at is not None and changed_at > ctx.received_at:
            continue
        if set_health(ctx.session, device, DeviceHealth.ONLINE, ctx.received_at):
            ctx.resolve(AlertKind.DEVICE_OFFLINE, device)
            ctx.notify("presence", device, online=True, health=DeviceHealth.ONLINE.value)
    low = ctx.low_disk_bytes
    reported = {
        d: t.disk_free_bytes for d, (t, _) in newest.items() if t.disk_free_bytes is not None
    }
    for device, free in reported.items():
        if free < low:
            ctx.received_at = newest[device][1]
            ctx.alert(AlertKind.LOW_DISK, device, disk_free_bytes=free)
    recovered = [d for d, free in reported.items() if free >= low]
    for device in open_alert_scopes(ctx.session, AlertKind.LOW_DISK, recovered):
        ctx.received_at = newest[device][1]
        ctx.resolve(AlertKind.LOW_DISK, device)


def on_events(ctx: HandlerContext, events: list[EventBase]) -> None:
    """Many events in one multi-row insert (a ring storm costs one flush per batch)."""
    results = store_events(ctx.session, events, ctx.received_at)
    for event, result in zip(events, results, strict=True):
        ctx.sync_devices[event.device] = max(
            ctx.sync_devices.get(event.device, 0), result.stored_through
        )
        ctx.max_seq[event.device] = max(ctx.max_seq.get(event.device, 0), event.seq)
        if result.outcome is not StoreOutcome.INSERTED:
            continue
        if result.new_gap:
            ctx.notify("gap", event.device, first=result.new_gap[0], last=result.new_gap[1])
        react = _REACTIONS.get(type(event))
        if react:
            react(ctx, event)


def on_snapshot(ctx: HandlerContext, snapshot: Snapshot) -> None:
    result = store_snapshot(ctx.session, ctx.files, snapshot, ctx.received_at)
    ctx.sync_devices[snapshot.meta.device] = result.stored_through
    if result.outcome is StoreOutcome.INSERTED:
        m = snapshot.meta
        ctx.notify(
            "snapshot",
            m.device,
            snapshot_id=m.id,
            event_id=m.event_id,
            command_id=m.command_id,
            reason=m.reason,
            at=m.at.isoformat(),
        )
        if m.reason == "ring" and ctx.pictures is not None:
            # Last, once its row is flushed: a failure above leaves no picture behind.
            ctx.pictures.put(m.id, snapshot.jpeg)


# -- reactions to newly stored events ------------------------------------------


def _ring(ctx: HandlerContext, event: DoorbellRang) -> None:
    # The picture stored just before (durably, with its row) travels with the ring, so
    # a viewer needs no second request; "jpeg" is absent when it is not at hand.
    picture = ctx.pictures.take(event.snapshot_id) if ctx.pictures is not None else None
    extra = {"jpeg": picture} if picture is not None else {}
    data = ring_notice_data(event.id, event.snapshot_id, event.at, event.seq)
    ctx.notify("ring", event.device, **data, **extra)


def ring_notice_data(
    event_id: str, snapshot_id: str | None, at: datetime, seq: int
) -> dict[str, Any]:
    """What a "ring" notice says of its ring (also rebuilt from a stored ring)."""
    return {"event_id": event_id, "snapshot_id": snapshot_id, "at": at.isoformat(), "seq": seq}


def _lock_changed(ctx: HandlerContext, event: LockChanged) -> None:
    if event.state is LockState.JAMMED and event.command_id is None:
        # No command asked for this change: the device was engaging by itself (re-lock
        # timer, door closed, boot, by hand) and could not. The door may be unlocked,
        # which is more urgent than a lock that would not open.
        ctx.alert(
            AlertKind.RELOCK_FAILED, event.device, cause=event.cause.value, door=event.door.value
        )
    elif event.state is LockState.JAMMED:
        # A commanded release failed: the device re-engaged; the lock needs a visit.
        ctx.alert(
            AlertKind.LOCK_JAMMED,
            event.device,
            cause=event.cause.value,
            command_id=event.command_id,
        )
    elif event.state is LockState.ENGAGED:
        ctx.resolve(AlertKind.LOCK_JAMMED, event.device)
        ctx.resolve(AlertKind.DOOR_LEFT_UNLOCKED, event.device)
        ctx.resolve(AlertKind.RELOCK_FAILED, event.device)
    ctx.notify(
        "lock",
        event.device,
        state=event.state.value,
        cause=event.cause.value,
        command_id=event.command_id,
        at=event.at.isoformat(),
    )


def _door_opened(ctx: HandlerContext, event: DoorOpened) -> None:
    ctx.notify("door", event.device, door="open", at=event.at.isoformat())


def _door_closed(ctx: HandlerContext, event: DoorClosed) -> None:
    ctx.resolve(AlertKind.DOOR_LEFT_OPEN, event.device)
    ctx.notify("door", event.device, door="closed", at=event.at.isoformat())


def _tamper(ctx: HandlerContext, event: TamperDetected) -> None:
    if event.reason is TamperReason.CAMERA_RESTORED:
        ctx.resolve(AlertKind.TAMPER, event.device)
    elif event.reason is TamperReason.REPEATED_BAD_COMMANDS:
        ctx.alert(AlertKind.REPEATED_REJECTED_COMMANDS, event.device, detail=event.detail)
    else:
        ctx.alert(AlertKind.TAMPER, event.device, reason=event.reason.value, detail=event.detail)


def _privacy(ctx: HandlerContext, event: PrivacyChanged) -> None:
    # The hub shows the switch the door reported (its retained state says it again).
    record_reported_privacy(ctx.session, event.device, event.privacy, event.seq)
    ctx.notify("privacy", event.device, privacy=event.privacy)


def _overflow(ctx: HandlerContext, event: OutboxOverflowed) -> None:
    ctx.notify(
        "outbox_overflow", event.device, dropped=len(event.dropped_seqs), reason=event.reason
    )


_REACTIONS: dict[type, Callable[[HandlerContext, Any], None]] = {
    DoorbellRang: _ring,
    LockChanged: _lock_changed,
    DoorOpened: _door_opened,
    DoorClosed: _door_closed,
    TamperDetected: _tamper,
    PrivacyChanged: _privacy,
    OutboxOverflowed: _overflow,
}

HANDLERS: dict[type, Callable[[HandlerContext, Any], None]] = {
    DeviceStatus: on_status,
    DeviceState: on_state,
    Telemetry: on_telemetry,
    Snapshot: on_snapshot,
}


def handler_for(message: object) -> Callable[[HandlerContext, Any], None] | None:
    """The handler of a non-event message (events go through ``on_events`` in batches)."""
    return HANDLERS.get(type(message))
