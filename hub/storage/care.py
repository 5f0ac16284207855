"""Storage of escalation policies, ring escalations and their steps, and break-glass boxes.

No rules here (who may, what is due): ``hub.escalation`` and ``hub.break_glass`` decide;
these functions only read and write rows.

    policy = get_policy(s, home_id)                       # None: the home keeps defaults
    esc = start_escalation(s, event_id=e, home_id=h, device_id=d, ring_at=t, plan=p, ...)
    claimed = claim_step(s, esc.id, step=0, next_due_at=t2)   # False: another hub took it
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models_care import BreakGlass, EscalationPolicy, EscalationStep, RingEscalation
from .models_commands import Command
from .models_events import Event
from .models_registry import Membership, Role

RUNNING, ANSWERED, UNANSWERED = "running", "answered", "unanswered"
FAMILY_ROLES = (Role.FAMILY_OWNER, Role.FAMILY_MEMBER)


# -- policies -------------------------------------------------------------------
def get_policy(session: Session, home_id: str) -> EscalationPolicy | None:
    return session.get(EscalationPolicy, home_id)


def save_policy(
    session: Session,
    home_id: str,
    *,
    contacts: Sequence[str],
    step_timeout_s: int,
    include_telecare: bool,
    telecare_may_unlock: bool,
    by: str,
    at: datetime,
) -> EscalationPolicy:
    row = session.get(EscalationPolicy, home_id)
    if row is None:
        row = EscalationPolicy(home_id=home_id)
        session.add(row)
    row.contacts = list(contacts)
    row.step_timeout_s = step_timeout_s
    row.include_telecare = include_telecare
    row.telecare_may_unlock = telecare_may_unlock
    row.updated_at, row.updated_by = at, by
    session.flush()
    return row


def people_with_role(session: Session, home_id: str, roles: Sequence[Role]) -> list[str]:
    """Person ids holding one of ``roles`` in the home, each once, oldest membership first."""
    stmt = (
        select(Membership.person_id, Membership.role)
        .where(Membership.home_id == home_id)
        .order_by(Membership.id)
    )
    out: list[str] = []
    for person, role in session.execute(stmt):
        if Role(role) in roles and person not in out:
            out.append(person)
    return out


# -- escalations ----------------------------------------------------------------
def start_escalation(
    session: Session,
    *,
    event_id: str,
    home_id: str,
    device_id: str,
    snapshot_id: str | None,
    ring_at: datetime,
    plan: list[dict[str, Any]],
    step_timeout_s: int,
    telecare_may_unlock: bool,
    first_due_at: datetime,
) -> RingEscalation | None:
    """A new running escalation; None when this ring already has one (a repeated notice)."""
    if session.scalars(
        select(RingEscalation.id).where(RingEscalation.event_id == event_id)
    ).first():
        return None
    row = RingEscalation(
        id=str(uuid.uuid4()),
        event_id=event_id,
        home_id=home_id,
        device_id=device_id,
        snapshot_id=snapshot_id,
        ring_at=ring_at,
        status=RUNNING,
        plan=plan,
        next_step=0,
        next_due_at=first_due_at,
        step_timeout_s=step_timeout_s,
        telecare_may_unlock=telecare_may_unlock,
    )
    session.add(row)
    session.flush()
    return row


def running_for_device(session: Session, device_id: str) -> RingEscalation | None:
    stmt = select(RingEscalation).where(
        RingEscalation.device_id == device_id, RingEscalation.status == RUNNING
    )
    return session.scalars(stmt.order_by(RingEscalation.ring_at)).first()


def due(session: Session, now: datetime, limit: int = 500) -> list[RingEscalation]:
    """Running escalations whose next step is due (one range read of the status index)."""
    stmt = select(RingEscalation).where(
        RingEscalation.status == RUNNING, RingEscalation.next_due_at <= now
    )
    return list(session.scalars(stmt.order_by(RingEscalation.next_due_at).limit(limit)))


def get_escalation(session: Session, escalation_id: str) -> RingEscalation | None:
    return session.get(RingEscalation, escalation_id)


def escalation_of_ring(session: Session, event_id: str) -> RingEscalation | None:
    stmt = select(RingEscalation).where(RingEscalation.event_id == event_id)
    return session.scalars(stmt).first()


def claim_step(
    session: Session, escalation_id: str, *, step: int, next_due_at: datetime | None
) -> bool:
    """Move a running escalation past ``step``; False when someone else already did."""
    stmt = (
        update(RingEscalation)
        .where(
            RingEscalation.id == escalation_id,
            RingEscalation.next_step == step,
            RingEscalation.status == RUNNING,
        )
        .values(next_step=step + 1, next_due_at=next_due_at)
    )
    return int(session.execute(stmt).rowcount) == 1  # type: ignore[attr-defined]


def finish(
    session: Session,
    escalation_id: str,
    *,
    status: str,
    at: datetime,
    answered_by: str | None = None,
) -> bool:
    """Stop a running escalation (answered or nobody answered); False if already stopped."""
    values: dict[str, Any] = {"status": status, "finished_at": at, "next_due_at": None}
    if status == ANSWERED:
        values |= {"answered_at": at, "answered_by": answered_by}
    stmt = (
        update(RingEscalation)
        .where(RingEscalation.id == escalation_id, RingEscalation.status == RUNNING)
        .values(**values)
    )
    return int(session.execute(stmt).rowcount) == 1  # type: ignore[attr-defined]


def add_step(
    session: Session,
    escalation_id: str,
    *,
    step: int,
    kind: str,
    recipients: list[str],
    notify_key: str,
    at: datetime,
    access_until: datetime | None = None,
) -> EscalationStep:
    row = EscalationStep(
        escalation_id=escalation_id,
        step=step,
        kind=kind,
        recipients=recipients,
        notify_key=notify_key,
        at=at,
        access_until=access_until,
    )
    session.add(row)
    session.flush()
    return row


def steps_of(session: Session, escalation_id: str) -> list[EscalationStep]:
    stmt = select(EscalationStep).where(EscalationStep.escalation_id == escalation_id)
    return list(session.scalars(stmt.order_by(EscalationStep.step)))


def telecare_steps_for(session: Session, person_id: str, now: datetime) -> list[EscalationStep]:
    """Telecare steps that reached ``person_id`` whose ring-scoped access still runs."""
    stmt = select(EscalationStep).where(
        EscalationStep.kind == "telecare", EscalationStep.access_until > now
    )
    return [
        s for s in session.scalars(stmt.order_by(EscalationStep.at)) if person_id in s.recipients
    ]


def answer_since(session: Session, device_id: str, since: datetime) -> str | None:
    """How the door was answered since ``since``, if it was: an unlock asked for, or the
    door opened or its lock released (from outside or in)."""
    command = session.scalars(
        select(Command.requested_by).where(
            Command.device_id == device_id,
            Command.action == "unlock",
            Command.created_at >= since,
        )
    ).first()
    if command is not None:
        return f"person:{command}"
    stmt = select(Event.kind, Event.payload).where(
        Event.device_id == device_id,
        Event.received_at >= since,
        Event.kind.in_(("door_opened", "lock_changed")),
    )
    for kind, payload in session.execute(stmt):
        if kind == "door_opened" or (payload or {}).get("state") == "released":
            return "door"
    return None


# -- break-glass ----------------------------------------------------------------
def open_box(
    session: Session,
    *,
    home_id: str,
    device_id: str,
    person_id: str,
    reason: str,
    at: datetime,
    expires_at: datetime,
) -> BreakGlass:
    row = BreakGlass(
        id=str(uuid.uuid4()),
        home_id=home_id,
        device_id=device_id,
        person_id=person_id,
        reason=reason,
        opened_at=at,
        expires_at=expires_at,
        unlocks=0,
    )
    session.add(row)
    session.flush()
    return row


def get_box(session: Session, box_id: str) -> BreakGlass | None:
    return session.get(BreakGlass, box_id)


def boxes_of(session: Session, home_id: str, *, unreviewed_only: bool = False) -> list[BreakGlass]:
    stmt = select(BreakGlass).where(BreakGlass.home_id == home_id)
    if unreviewed_only:
        stmt = stmt.where(BreakGlass.reviewed_at.is_(None))
    return list(session.scalars(stmt.order_by(BreakGlass.opened_at.desc())))


def device_of_event(session: Session, event_id: str) -> str | None:
    """The device that sent the event ``event_id`` (None: no such event stored)."""
    stmt = select(Event.device_id).where(Event.event_id == event_id)
    return session.scalars(stmt).first()
