"""Who is expected at a home now, and the rules of a carer's check-in ("I'm here").

Windows are wall-clock times in the home's time zone, so a 09:00 visit stays at
09:00 across daylight-saving changes. A window matches a moment when the moment
lies within its start - tolerance .. end + tolerance on a day the window applies.

    expected = expected_at(s, home_id, utcnow())     # -> [Expected], soonest first
    result = check_in(s, window_id, person_id, at=utcnow())   # or raises CheckInRefused
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from .audit import AuditAction, RefKind, append, person_ref, ref
from .carer_photos import photo_ids_of_home
from .errors import HubError
from .policy import Permission, permissions
from .storage.homes import get_home
from .storage.models_registry import Person
from .storage.models_visits import VisitWindow
from .storage.visits import add_check_in, check_ins_between, get_window, windows_on

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CheckInRefused(HubError, ValueError):
    """A check-in outside the carer's window, or by someone else than its carer."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One concrete visit of a window: its local start and end, and its tolerance."""

    start: datetime
    end: datetime
    tolerance: timedelta

    def matches(self, at: datetime) -> bool:
        # In UTC: wall-clock arithmetic on an aware time would be an hour off across a
        # daylight-saving change inside the tolerance.
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        return start - self.tolerance <= at <= end + self.tolerance


@dataclass(frozen=True, slots=True)
class Expected:
    window_id: str
    carer: str
    name: str | None  # None once the carer is erased
    agency: str
    start: datetime  # aware, in the home's time zone
    end: datetime
    checked_in_at: datetime | None
    photo_id: str | None = None  # the carer's photo for this home, shown with consent


@dataclass(frozen=True, slots=True)
class CheckInResult:
    window_id: str
    home_id: str
    carer: str
    at: datetime
    new: bool  # False when the carer had already checked in for this visit


def occurrence_at(window: VisitWindow, tz: ZoneInfo, at: datetime) -> Occurrence | None:
    """The visit of ``window`` that ``at`` falls in (± tolerance), if any."""
    local = at.astimezone(tz).date()
    # Yesterday's visit may run past midnight; tomorrow's early one may start within tolerance.
    for day in (local - timedelta(days=1), local, local + timedelta(days=1)):
        occurrence = occurrence_on(window, tz, day)
        if occurrence is not None and occurrence.matches(at):
            return occurrence
    return None


def occurrence_on(window: VisitWindow, tz: ZoneInfo, day: date) -> Occurrence | None:
    if window.on_date is not None and window.on_date != day:
        return None
    if window.weekday is not None and window.weekday != day.weekday():
        return None
    start = datetime.combine(day, window.start, tzinfo=tz)
    end_day = day if window.end > window.start else day + timedelta(days=1)
    end = datetime.combine(end_day, window.end, tzinfo=tz)
    return Occurrence(start, end, timedelta(minutes=window.tolerance_min))


def expected_at(session: Session, home_id: str, at: datetime) -> list[Expected]:
    """Every carer whose window matches ``at`` in this home, soonest start first."""
    tz = ZoneInfo(get_home(session, home_id).timezone)
    found: list[tuple[VisitWindow, Occurrence]] = []
    local = at.astimezone(tz).date()
    days = (local - timedelta(days=1), local, local + timedelta(days=1))
    for window in windows_on(session, home_id, days):
        occurrence = occurrence_at(window, tz, at)
        if occurrence is not None:
            found.append((window, occurrence))
    photos = photo_ids_of_home(session, home_id) if found else {}
    return [
        Expected(
            window_id=w.id,
            carer=w.carer_id,
            name=_name(session, w.carer_id),
            agency=w.agency,
            start=o.start,
            end=o.end,
            checked_in_at=checked_in(session, w.id, o),
            photo_id=photos.get(w.carer_id),
        )
        for w, o in sorted(found, key=lambda pair: pair[1].start)
    ]


def checked_in(session: Session, window_id: str, occurrence: Occurrence) -> datetime | None:
    """When the carer first checked in for this visit, if they did."""
    rows = check_ins_between(
        session,
        [window_id],
        occurrence.start - occurrence.tolerance,
        occurrence.end + occurrence.tolerance,
    )
    return rows[0].at if rows else None


def check_in(session: Session, window_id: str, person_id: str, *, at: datetime) -> CheckInResult:
    """Record "I'm here" for the visit happening now (audited); refuse with a plain reason."""
    window = get_window(session, window_id)
    if window.carer_id != person_id:
        raise CheckInRefused("this visit is someone else's: check in on your own visit")
    if Permission.CHECK_IN not in permissions(session, person_id, window.home_id):
        raise CheckInRefused("you are no longer a carer of this home: ask the family")
    tz = ZoneInfo(get_home(session, window.home_id).timezone)
    occurrence = occurrence_at(window, tz, at)
    if occurrence is None:
        raise CheckInRefused(
            f"it is {at.astimezone(tz):%A %H:%M} at the home, outside your visit "
            f"({describe(window)}): check in during the visit"
        )
    earlier = checked_in(session, window.id, occurrence)
    if earlier is not None:
        return CheckInResult(window.id, window.home_id, person_id, earlier, new=False)
    row = add_check_in(session, window.id, person_id, at=at)
    append(
        session,
        AuditAction.CHECKED_IN,
        actor=person_ref(person_id),
        at=at,
        subjects=[ref(RefKind.HOME, window.home_id), ref(RefKind.VISIT, window.id)],
    )
    return CheckInResult(window.id, window.home_id, person_id, row.at, new=True)


def describe(window: VisitWindow) -> str:
    """'Monday 09:00–09:30 ± 15 min' or '2026-12-24 09:00–09:30 ± 15 min'."""
    day = WEEKDAYS[window.weekday] if window.weekday is not None else str(window.on_date)
    return f"{day} {window.start:%H:%M}–{window.end:%H:%M} ± {window.tolerance_min} min"


def _name(session: Session, person_id: str) -> str | None:
    person = session.get(Person, person_id)
    return person.display_name if person is not None else None
