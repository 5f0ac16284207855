"""The rules of visit verification as one pure function over a visit's door events.

No database and no clock of its own: ``hub.visit_records`` feeds it the events of the
home's doors around one planned visit and stores what it returns.

    d = derive(planned_start=s, planned_end=e, tolerance=timedelta(minutes=15),
               events=[DoorEvent("ring", at)], check_ins=[], now=now, overrun=OVERRUN)
    d.status, d.late, d.arrival_at
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .storage.models_visit_records import VisitStatus

# The door must open this soon after the unlock for the opening to be the carer's entry
# (the door re-locks by itself a few seconds after an unlock).
ENTRY_WITHIN = timedelta(minutes=1)
# After the carer leaves, the lock must be engaged at the door's closing or this soon after.
LOCKED_WITHIN = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class DoorEvent:
    kind: str  # ring, door_opened, door_closed, lock_changed
    at: datetime
    device: str = ""
    lock: str | None = None  # lock_changed: engaged, released, jammed, unknown
    command_id: str | None = None  # lock_changed: the acknowledged unlock that caused it


@dataclass(frozen=True, slots=True)
class Derived:
    status: VisitStatus
    late: bool
    final: bool
    arrival_at: datetime | None = None
    arrival_via: str | None = None
    entry_at: datetime | None = None
    entry_command_id: str | None = None
    departure_at: datetime | None = None
    duration_s: int | None = None


def derive(
    *,
    planned_start: datetime,
    planned_end: datetime,
    tolerance: timedelta,
    events: list[DoorEvent],
    check_ins: list[datetime],
    now: datetime,
    overrun: timedelta,
) -> Derived:
    """What the events say about one planned visit, as of ``now``."""
    lo, end = planned_start - tolerance, planned_end + tolerance
    final = now > end + overrun
    events = sorted((e for e in events if e.at <= now), key=lambda e: e.at)
    candidates = [(e.at, "ring") for e in events if e.kind == "ring" and lo <= e.at <= end]
    candidates += [(at, "check_in") for at in check_ins if lo <= at <= end and at <= now]
    if not candidates:
        status = VisitStatus.MISSED if now > end else VisitStatus.EXPECTED
        return Derived(status, late=False, final=final)
    arrival_at, via = min(candidates)
    late = arrival_at > planned_start + tolerance
    base = {"late": late, "arrival_at": arrival_at, "arrival_via": via}
    entry = _entry(events, arrival_at)
    if entry is None:
        return Derived(VisitStatus.ARRIVED, final=final, **base)
    entry_at, command_id, index = entry
    departure_at = _departure(events, index)
    if departure_at is None:
        return Derived(
            VisitStatus.ENTERED, final=final, entry_at=entry_at, entry_command_id=command_id, **base
        )
    return Derived(
        VisitStatus.COMPLETED,
        final=True,  # nothing later changes a completed visit
        entry_at=entry_at,
        entry_command_id=command_id,
        departure_at=departure_at,
        duration_s=int((departure_at - entry_at).total_seconds()),
        **base,
    )


def _entry(events: list[DoorEvent], arrival_at: datetime) -> tuple[datetime, str, int] | None:
    """(door opened at, unlock command, index of that event) of the entry after arrival."""
    for i, e in enumerate(events):
        if e.at < arrival_at or e.kind != "lock_changed" or e.lock != "released":
            continue
        if e.command_id is None:  # released by hand or without an acknowledged unlock
            continue
        for j in range(i + 1, len(events)):
            opened = events[j]
            if opened.at - e.at > ENTRY_WITHIN:
                break
            if opened.kind == "door_opened" and opened.device == e.device:
                return opened.at, e.command_id, j
    return None


def _departure(events: list[DoorEvent], entry: int) -> datetime | None:
    """When the door closed behind the leaving carer, locked; None while they are inside."""
    door = events[entry].device
    timeline = [e for e in events[entry + 1 :] if e.device == door]
    # The entry's own opening ends when the door first closes (the carer is inside).
    first_close = next((i for i, e in enumerate(timeline) if e.kind == "door_closed"), None)
    if first_close is None:
        return None
    opened = next(
        (i for i in range(first_close + 1, len(timeline)) if timeline[i].kind == "door_opened"),
        None,
    )
    if opened is None:
        return None
    close = next(
        (i for i in range(opened + 1, len(timeline)) if timeline[i].kind == "door_closed"), None
    )
    if close is None:
        return None  # the door is open now: not left yet (or left open)
    at = timeline[close].at
    locks = [
        e.lock
        for e in events
        if e.device == door and e.kind == "lock_changed" and e.at <= at + LOCKED_WITHIN
    ]
    return at if locks and locks[-1] == "engaged" else None
