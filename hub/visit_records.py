"""Visit verification: what actually happened at each planned visit, from door events.

Each occurrence of a visit window (a weekly window has one a week) gets one record:

- **arrival**: the first ring at any door of the home, or the carer's check-in, within
  start - tolerance .. end + tolerance (whichever came first);
- **late**: the arrival came after start + tolerance;
- **entry**: after the arrival, the door reported its lock released by an unlock
  command the hub holds as acknowledged, and then the door opened (within a minute);
- **departure**: after the entry's door closed, the door opened and closed again with
  the lock engaged (the carer left and the door is locked); **duration** = entry to it;
- **missed**: no arrival by end + tolerance. The family and the home's telecare
  officers are told once ("carer_non_arrival" notice, alert on the home's door).

Door events count at the door's own time (an event that waited in the door's outbox
still lands at the moment it happened). A record is *final* once completed, or
``OVERRUN`` after its window's end + tolerance; until then each pass recomputes it from
the events, so a run after a restart, or a second hub process, reaches the same answer.

    job = VisitRecordsJob(db, bus, clock=utcnow)   # the hub runs job.run() every minute
    refresh(session, now)                          # the same pass, without notices
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from protocol.base import utcnow

from .bus import Notice, NoticeBus
from .storage.database import Database
from .storage.devices import list_devices
from .storage.homes import get_home
from .storage.models_commands import Command, CommandStatus
from .storage.models_events import Event
from .storage.models_visit_records import ApprovalStatus, CheckInApproval, VisitRecord, VisitStatus
from .storage.models_visits import VisitWindow
from .storage.visit_records import ensure_record, latest_starts, open_records
from .storage.visits import check_ins_between
from .visit_alerts import clear_seen_non_arrivals, resolve_non_arrival, tell_non_arrival
from .visit_derivation import Derived, DoorEvent, derive
from .visits import occurrence_on

log = logging.getLogger(__name__)

OVERRUN = timedelta(hours=2)  # how long after end + tolerance a visit may still change
LOOKBACK = timedelta(days=7)  # how far back the first pass (or one after a long stop) goes
DOOR_KINDS = ("ring", "door_opened", "door_closed", "lock_changed")

__all__ = ["OVERRUN", "VisitRecordsJob", "plan_occurrences", "refresh", "update_records"]


def refresh(session: Session, now: datetime, home_id: str | None = None) -> list[VisitRecord]:
    """Plan due occurrences and bring open records up to date; the newly missed ones."""
    plan_occurrences(session, now, home_id)
    return update_records(session, now, home_id)


def plan_occurrences(session: Session, now: datetime, home_id: str | None = None) -> int:
    """A record for every occurrence whose window (minus tolerance) has begun by ``now``."""
    stmt = select(VisitWindow)
    if home_id is not None:
        stmt = stmt.where(VisitWindow.home_id == home_id)
    windows = list(session.scalars(stmt))
    newest = latest_starts(session, since=now - LOOKBACK - timedelta(days=1))
    zones: dict[str, ZoneInfo] = {}
    planned = 0
    for window in windows:
        if window.home_id not in zones:
            zones[window.home_id] = ZoneInfo(get_home(session, window.home_id).timezone)
        tz = zones[window.home_id]
        tolerance = timedelta(minutes=window.tolerance_min)
        since = max(now - LOOKBACK, window.created_at, newest.get(window.id, now - LOOKBACK))
        day = since.astimezone(tz).date() - timedelta(days=1)
        last = now.astimezone(tz).date() + timedelta(days=1)
        while day <= last:
            occurrence = occurrence_on(window, tz, day)
            day += timedelta(days=1)
            if occurrence is None:
                continue
            start = occurrence.start.astimezone(UTC)
            # Only visits planned to start after the window was made, begun by now, and
            # not recorded already.
            if start < window.created_at or start - tolerance > now:
                continue
            if window.id in newest and start <= newest[window.id]:
                continue
            ensure_record(session, window, start, occurrence.end.astimezone(UTC), at=now)
            planned += 1
    return planned


def update_records(
    session: Session, now: datetime, home_id: str | None = None
) -> list[VisitRecord]:
    """Recompute every open record from the door's events; return the newly missed ones."""
    missed: list[VisitRecord] = []
    by_home: dict[str, list[VisitRecord]] = {}
    for record in open_records(session, home_id):
        by_home.setdefault(record.home_id, []).append(record)
    for home, records in by_home.items():
        lo = min(_lo(r) for r in records)
        hi = max(_hi(r) for r in records)
        events = door_events(session, home, lo, min(hi, now))
        for record in records:
            check_ins = [
                c.at
                for c in check_ins_between(session, [record.window_id], _lo(record), _end(record))
            ]
            result = derive(
                planned_start=record.planned_start,
                planned_end=record.planned_end,
                tolerance=timedelta(minutes=record.tolerance_min),
                events=[e for e in events if _lo(record) <= e.at <= _hi(record)],
                check_ins=check_ins,
                now=now,
                overrun=OVERRUN,
            )
            if result.status is VisitStatus.MISSED and record.status is not VisitStatus.MISSED:
                missed.append(record)
            elif record.status is VisitStatus.MISSED and result.status is not VisitStatus.MISSED:
                # A ring that waited in the door's outbox: the carer came after all.
                resolve_non_arrival(session, record, now)
            elif record.status is VisitStatus.EXPECTED and result.arrival_at is not None:
                clear_seen_non_arrivals(session, home, now)
            _apply(record, result, now)
    session.flush()
    _expire_approvals(session, now)
    return missed


def door_events(
    session: Session, home_id: str, since: datetime, until: datetime
) -> list[DoorEvent]:
    """Rings, door and lock changes at the home's doors, oldest first (door time)."""
    devices = [d.id for d in list_devices(session, home_id=home_id, include_revoked=True)]
    if not devices or until < since:
        return []
    rows = session.execute(
        select(Event.kind, Event.device_time, Event.payload, Event.device_id)
        .where(
            Event.device_id.in_(devices),
            Event.kind.in_(DOOR_KINDS),
            Event.device_time >= since,
            Event.device_time <= until,
        )
        .order_by(Event.device_time, Event.id)
    ).all()
    wanted = {p.get("command_id") for k, _t, p, _d in rows if k == "lock_changed"} - {None}
    acked = _acknowledged(session, wanted)
    return [
        DoorEvent(
            kind=kind,
            at=at,
            device=device,
            lock=payload.get("state"),
            command_id=payload.get("command_id") if payload.get("command_id") in acked else None,
        )
        for kind, at, payload, device in rows
    ]


def _acknowledged(session: Session, command_ids: Iterable[str]) -> set[str]:
    ids = sorted(command_ids)
    if not ids:
        return set()
    stmt = select(Command.id).where(
        Command.id.in_(ids),
        Command.action == "unlock",
        Command.status == CommandStatus.ACKNOWLEDGED,
    )
    return set(session.scalars(stmt))


def _lo(r: VisitRecord) -> datetime:
    return r.planned_start - timedelta(minutes=r.tolerance_min)


def _end(r: VisitRecord) -> datetime:
    return r.planned_end + timedelta(minutes=r.tolerance_min)


def _hi(r: VisitRecord) -> datetime:
    return _end(r) + OVERRUN


def _apply(record: VisitRecord, d: Derived, now: datetime) -> None:
    record.status = d.status
    record.late = d.late
    record.arrival_at = d.arrival_at
    record.arrival_via = d.arrival_via
    record.entry_at = d.entry_at
    record.entry_command_id = d.entry_command_id
    record.departure_at = d.departure_at
    record.duration_s = d.duration_s
    record.final = d.final
    record.updated_at = now


def _expire_approvals(session: Session, now: datetime) -> None:
    session.execute(
        update(CheckInApproval)
        .where(CheckInApproval.status == ApprovalStatus.PENDING, CheckInApproval.expires_at <= now)
        .values(status=ApprovalStatus.EXPIRED)
        .execution_options(synchronize_session=False)
    )


class VisitRecordsJob:
    """The periodic pass: plan, derive, and tell people about missed visits once."""

    def __init__(
        self, db: Database, bus: NoticeBus, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock

    def run(self) -> int:
        """One pass; returns how many non-arrivals it told people about."""
        now = self.clock()
        notices: list[Notice] = []
        with self.db.session() as s:
            refresh(s, now)
            for record in _untold_missed(s):
                notices.extend(tell_non_arrival(s, record, now))
        for notice in notices:  # after the commit: listeners may read what they hear about
            self.bus.post(notice)
        told = sum(n.kind == "notify" for n in notices)
        if told:
            log.info("visit records: %d carer non-arrival(s) reported", told)
        return told


def _untold_missed(session: Session) -> list[VisitRecord]:
    stmt = select(VisitRecord).where(
        VisitRecord.status == VisitStatus.MISSED, VisitRecord.non_arrival_notified_at.is_(None)
    )
    return list(session.scalars(stmt.order_by(VisitRecord.planned_start)))
