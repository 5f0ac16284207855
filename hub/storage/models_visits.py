"""Tables of the care schedule: when a carer is expected at a home, and their check-ins.

A visit window is either weekly (``weekday`` 0 = Monday .. 6 = Sunday) or one-off
(``on_date``), never both; ``start``/``end`` are wall-clock times in the home's time
zone (an ``end`` at or before ``start`` means the visit runs past midnight).
A check-in is a carer's "I'm here" within a window.

    >>> VisitWindow.__tablename__, CheckIn.__tablename__
    ('visit_windows', 'check_ins')
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, UTCDateTime


class VisitWindow(Base):
    """When one carer (of one agency) is expected at one home."""

    __tablename__ = "visit_windows"
    __table_args__ = (
        CheckConstraint("(weekday IS NULL) <> (on_date IS NULL)", name="weekly_or_one_off"),
        CheckConstraint("weekday IS NULL OR (weekday >= 0 AND weekday <= 6)", name="weekday"),
        CheckConstraint("tolerance_min >= 0 AND tolerance_min <= 240", name="tolerance"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    # Erasing the carer removes their windows and check-ins with them.
    carer_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    agency: Mapped[str] = mapped_column(String(200))
    weekday: Mapped[int | None] = mapped_column(Integer)
    on_date: Mapped[date | None] = mapped_column(Date)
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)
    tolerance_min: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckIn(Base):
    """A carer said "I'm here" for a window at ``at`` (hub clock)."""

    __tablename__ = "check_ins"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    window_id: Mapped[str] = mapped_column(
        ForeignKey("visit_windows.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
