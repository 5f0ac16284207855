"""Visit windows and check-ins: the storage half of ``hub.visits`` (which holds the rules).

w = add_window(s, home_id=h, carer_id=bob, agency="Helping Hands", weekday=0,
               start=time(9), end=time(9, 30), tolerance_min=15, created_by=anna, at=now)
add_check_in(s, w.id, bob, at=now)
windows_of_home(s, h)           # -> [VisitWindow]
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime, time

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..errors import InvalidValue, NotFound
from .homes import get_home, get_person
from .models_registry import Membership, Role
from .models_visits import CheckIn, VisitWindow

MAX_TOLERANCE_MIN = 240


def add_window(
    session: Session,
    *,
    home_id: str,
    carer_id: str,
    agency: str,
    start: time,
    end: time,
    tolerance_min: int,
    created_by: str,
    at: datetime,
    weekday: int | None = None,
    on_date: date | None = None,
) -> VisitWindow:
    """A new window; the carer must hold the carer role in the home."""
    if (weekday is None) == (on_date is None):
        raise InvalidValue("give either a weekday (0 = Monday .. 6 = Sunday) or a date, not both")
    if weekday is not None and not 0 <= weekday <= 6:
        raise InvalidValue(f"weekday {weekday}: use 0 (Monday) to 6 (Sunday)")
    if start == end:
        raise InvalidValue(f"a window from {start:%H:%M} to {end:%H:%M} is empty: set its end")
    if not 0 <= tolerance_min <= MAX_TOLERANCE_MIN:
        raise InvalidValue(f"tolerance of {tolerance_min} min: choose 0 to {MAX_TOLERANCE_MIN}")
    get_home(session, home_id)
    get_person(session, carer_id)
    if not is_carer_of(session, carer_id, home_id):
        raise InvalidValue("that person is not a carer of this home: invite them as a carer first")
    window = VisitWindow(
        id=str(uuid.uuid4()),
        home_id=home_id,
        carer_id=carer_id,
        agency=agency,
        weekday=weekday,
        on_date=on_date,
        start=start.replace(second=0, microsecond=0, tzinfo=None),
        end=end.replace(second=0, microsecond=0, tzinfo=None),
        tolerance_min=tolerance_min,
        created_by=created_by,
        created_at=at,
    )
    session.add(window)
    session.flush()
    return window


def is_carer_of(session: Session, person_id: str, home_id: str) -> bool:
    stmt = select(Membership.id).where(
        Membership.person_id == person_id,
        Membership.home_id == home_id,
        Membership.role == Role.CARER,
    )
    return session.scalars(stmt).first() is not None


def get_window(session: Session, window_id: str) -> VisitWindow:
    window = session.get(VisitWindow, window_id)
    if window is None:
        raise NotFound(f"visit window {window_id!r} does not exist (or was removed)")
    return window


def find_window(session: Session, window_id: str) -> VisitWindow | None:
    return session.get(VisitWindow, window_id)


def windows_of_home(session: Session, home_id: str) -> list[VisitWindow]:
    stmt = select(VisitWindow).where(VisitWindow.home_id == home_id)
    return list(session.scalars(stmt.order_by(VisitWindow.start, VisitWindow.id)))


def windows_on(session: Session, home_id: str, days: Iterable[date]) -> list[VisitWindow]:
    """Windows of a home that apply on any of ``days`` (by weekday or by date)."""
    days = list(days)
    stmt = select(VisitWindow).where(
        VisitWindow.home_id == home_id,
        or_(
            VisitWindow.weekday.in_({d.weekday() for d in days}),
            VisitWindow.on_date.in_(days),
        ),
    )
    return list(session.scalars(stmt.order_by(VisitWindow.start, VisitWindow.id)))


def windows_of_carer(session: Session, person_id: str) -> list[VisitWindow]:
    stmt = select(VisitWindow).where(VisitWindow.carer_id == person_id)
    return list(session.scalars(stmt.order_by(VisitWindow.start, VisitWindow.id)))


def remove_window(session: Session, window_id: str) -> bool:
    result = session.execute(delete(VisitWindow).where(VisitWindow.id == window_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_check_in(session: Session, window_id: str, person_id: str, *, at: datetime) -> CheckIn:
    row = CheckIn(window_id=window_id, person_id=person_id, at=at)
    session.add(row)
    session.flush()
    return row


def check_ins_between(
    session: Session, window_ids: Iterable[str], since: datetime, until: datetime
) -> list[CheckIn]:
    """Check-ins of these windows with ``since <= at <= until``, oldest first."""
    ids = list(window_ids)
    if not ids:
        return []
    stmt = (
        select(CheckIn)
        .where(CheckIn.window_id.in_(ids), CheckIn.at >= since, CheckIn.at <= until)
        .order_by(CheckIn.at, CheckIn.id)
    )
    return list(session.scalars(stmt))
