"""Tables of visit verification and the check-in policy of a home.

- ``visit_records``: one row per occurrence of a visit window (a weekly window has
  one a week), derived from door events by ``hub.visit_records``: arrival, entry,
  departure, duration, late, missed. Unique per (window, planned start), so several
  hub processes deriving at once never double a visit.
- ``visit_policies``: the home's switch "the family may approve a check-in in one tap".
- ``auto_unlock_carers``: carers whose check-in unlocks the door by itself (owner only).
- ``check_in_approvals``: a check-in waiting for (or given) the family's approval.

    >>> VisitStatus.MISSED.value
    'missed'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, EnumText, UTCDateTime


class VisitStatus(StrEnum):
    EXPECTED = "expected"  # no arrival yet, and still time for one
    ARRIVED = "arrived"  # rang or checked in
    ENTERED = "entered"  # the door was unlocked and opened for them
    COMPLETED = "completed"  # left: the door opened, closed again and locked
    MISSED = "missed"  # no arrival by the end of the window plus tolerance


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # the unlock command was sent (its own status says the rest)
    EXPIRED = "expired"  # the visit's window (plus tolerance) ended first


class VisitRecord(Base):
    __tablename__ = "visit_records"
    __table_args__ = (
        Unique("window_id", "planned_start"),
        Index("ix_visit_records_home_id_planned_start", "home_id", "planned_start"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    window_id: Mapped[str] = mapped_column(
        ForeignKey("visit_windows.id", ondelete="CASCADE"), index=True
    )
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    carer_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    agency: Mapped[str] = mapped_column(String(200))
    planned_start: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    planned_end: Mapped[datetime] = mapped_column(UTCDateTime)
    tolerance_min: Mapped[int] = mapped_column(Integer)
    status: Mapped[VisitStatus] = mapped_column(EnumText(VisitStatus), index=True)
    late: Mapped[bool] = mapped_column(Boolean)
    arrival_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrival_via: Mapped[str | None] = mapped_column(String(16))  # "ring" or "check_in"
    entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_command_id: Mapped[str | None] = mapped_column(String(36))
    departure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    # True once nothing can change it any more (well past the window's end).
    final: Mapped[bool] = mapped_column(Boolean, index=True)
    non_arrival_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VisitPolicy(Base):
    __tablename__ = "visit_policies"

    home_id: Mapped[str] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True
    )
    family_approves_check_in: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(String(36))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AutoUnlockCarer(Base):
    __tablename__ = "auto_unlock_carers"

    home_id: Mapped[str] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True
    )
    carer_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    enabled_by: Mapped[str] = mapped_column(String(36))
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckInApproval(Base):
    __tablename__ = "check_in_approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    window_id: Mapped[str] = mapped_column(
        ForeignKey("visit_windows.id", ondelete="CASCADE"), index=True
    )
    carer_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ApprovalStatus] = mapped_column(EnumText(ApprovalStatus))
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    command_id: Mapped[str | None] = mapped_column(String(36))
