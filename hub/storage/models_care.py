"""Tables of care: unanswered-ring escalation and break-glass (migration 0007).

- ``escalation_policies``: one row per home: who to try after the family, how long
  each step waits, whether the telecare service comes last, and whether an officer
  reached that way may unlock. No row: the defaults (no contacts, no telecare).
- ``ring_escalations``: one row per escalated ring, with its plan (fixed when the
  ring came, so a policy change never reshuffles a running escalation), the next
  step and when it is due. The hub's job steps it; a restart resumes from here.
- ``escalation_steps``: each step taken (who was told, when, under which notification
  key); a telecare step also bounds the officers' ring-scoped access.
- ``break_glass``: an officer's emergency access to one door, time-boxed, and its review.

    >>> EscalationPolicy.__tablename__, RingEscalation.__tablename__, BreakGlass.__tablename__
    ('escalation_policies', 'ring_escalations', 'break_glass')
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, Json, UTCDateTime


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"

    home_id: Mapped[str] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), primary_key=True
    )
    contacts: Mapped[list[str]] = mapped_column(Json)  # person ids, in order
    step_timeout_s: Mapped[int] = mapped_column(Integer)
    include_telecare: Mapped[bool] = mapped_column(Boolean)
    telecare_may_unlock: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(36))


class RingEscalation(Base):
    __tablename__ = "ring_escalations"
    # The job's one query: running escalations whose next step is due.
    __table_args__ = (Index("ix_ring_escalations_status_next_due_at", "status", "next_due_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # the ring
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    ring_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running / answered / unanswered
    plan: Mapped[list[dict[str, Any]]] = mapped_column(Json)  # [{"kind", "to": [...]}]
    next_step: Mapped[int] = mapped_column(Integer)  # steps taken so far
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step_timeout_s: Mapped[int] = mapped_column(Integer)
    telecare_may_unlock: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(100))  # an audit ref or "door"
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EscalationStep(Base):
    __tablename__ = "escalation_steps"
    __table_args__ = (UniqueConstraint("escalation_id", "step"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    escalation_id: Mapped[str] = mapped_column(
        ForeignKey("ring_escalations.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # person / telecare / unanswered
    recipients: Mapped[list[str]] = mapped_column(Json)
    notify_key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    access_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # telecare steps


class BreakGlass(Base):
    __tablename__ = "break_glass"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    # No foreign key: the record must outlive the officer's account for its review.
    person_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unlocks: Mapped[int] = mapped_column(Integer)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(36))
    review_note: Mapped[str | None] = mapped_column(String(1000))
