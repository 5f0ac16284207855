"""Tables of privacy: each home's consent records, and the record of erased people.

Consent records are never changed: a new decision is a new row, so the history of
who consented to what stays readable; the newest row of a home is the one in force.
Person ids here are plain text, not foreign keys: erasing a person keeps the record
that consent was given (its personal fields are blanked), as the law expects.

    >>> ConsentBasis.BEST_INTERESTS.value
    'best_interests'
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, EnumText, Json, UTCDateTime


class ConsentBasis(StrEnum):
    """Who agreed to the recording."""

    PERSON = "person"  # the person cared for, with capacity to decide
    ATTORNEY = "attorney"  # an attorney under a health and welfare LPA (or a deputy)
    BEST_INTERESTS = "best_interests"  # a recorded best-interests decision (MCA 2005 s.4)


class ConsentScope(StrEnum):
    """What may be recorded at the door."""

    SNAPSHOTS = "snapshots"  # a picture at each ring
    LIVE_VIEW = "live_view"  # pictures on a family member's request
    VISIT_RECORDS = "visit_records"  # arrivals, entries, departures of carers
    EVENTS = "events"  # rings, door and lock history
    TELECARE_ACCESS = "telecare_access"  # the council's officers may see a ring's picture


class ConsentRecord(Base):
    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_home_id_recorded_at", "home_id", "recorded_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    resident_id: Mapped[str | None] = mapped_column(String(36), index=True)
    basis: Mapped[ConsentBasis] = mapped_column(EnumText(ConsentBasis))
    given_by: Mapped[str | None] = mapped_column(String(200))
    given_by_person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    scope: Mapped[list[str]] = mapped_column(Json)
    consented_on: Mapped[date] = mapped_column(Date)
    review_on: Mapped[date] = mapped_column(Date, index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonErasure(Base):
    """A person whose personal data was erased: when, by whom, where they had been."""

    __tablename__ = "person_erasures"

    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_by: Mapped[str] = mapped_column(String(100))
    homes: Mapped[list[str]] = mapped_column(Json)
    summary: Mapped[dict[str, Any]] = mapped_column(Json)
