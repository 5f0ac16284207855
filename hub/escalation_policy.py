"""Escalation policy and the rules around an escalated ring: who is tried after the
family (the plan), who may follow a ring, and whether an officer it reached may unlock.

No timers here: ``hub.escalation`` runs the steps. Everything is a plain function of a
session, so the web app and the engine share one set of rules.

    policy = effective_policy(s, home_id)              # the defaults when none was set
    plan = plan_for(s, home_id, policy)                # [{"kind": "person", "to": [...]}, ...]
    may_follow(s, esc, person_id, now)                 # family, or an officer it reached
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import AuditAction, RefKind, append, person_ref, ref
from .errors import HubError
from .policy import NotAuthorised, Permission, permissions, require
from .storage.care import (
    FAMILY_ROLES,
    get_escalation,
    get_policy,
    people_with_role,
    save_policy,
    steps_of,
)
from .storage.models_care import EscalationStep, RingEscalation
from .storage.models_registry import Person, Role

log = logging.getLogger(__name__)

ACCESS_S = 1800  # an officer reached by escalation sees that ring for 30 minutes
DEFAULT_STEP_S = 60
STEP_LIMITS_S = (15, 3600)
MAX_CONTACTS = 10


class PolicyInvalid(HubError, ValueError):
    """An escalation policy naming someone outside the family, or a timeout out of range."""


@dataclass(frozen=True, slots=True)
class Policy:
    """A home's escalation policy; the defaults: nobody beyond the family, no telecare."""

    contacts: tuple[str, ...] = ()
    step_timeout_s: int = DEFAULT_STEP_S
    include_telecare: bool = False
    telecare_may_unlock: bool = False


def effective_policy(session: Session, home_id: str) -> Policy:
    row = get_policy(session, home_id)
    if row is None:
        return Policy()
    return Policy(
        tuple(row.contacts), row.step_timeout_s, row.include_telecare, row.telecare_may_unlock
    )


def set_policy(
    session: Session, home_id: str, person_id: str, policy: Policy, now: datetime
) -> Policy:
    """The family owner sets the home's policy (validated, audited)."""
    require(session, person_id, home_id, Permission.MANAGE_ESCALATION)
    low, high = STEP_LIMITS_S
    if not low <= policy.step_timeout_s <= high:
        raise PolicyInvalid(f"step timeout {policy.step_timeout_s} s: use {low} to {high} s")
    if len(policy.contacts) > MAX_CONTACTS or len(set(policy.contacts)) != len(policy.contacts):
        raise PolicyInvalid(f"name up to {MAX_CONTACTS} different people")
    family = people_with_role(session, home_id, FAMILY_ROLES)
    strangers = [p for p in policy.contacts if p not in family]
    if strangers:
        raise PolicyInvalid(f"not family of this home: {', '.join(strangers)}; invite them first")
    if policy.telecare_may_unlock and not policy.include_telecare:
        raise PolicyInvalid("telecare may unlock only when the escalation includes telecare")
    save_policy(
        session,
        home_id,
        contacts=policy.contacts,
        step_timeout_s=policy.step_timeout_s,
        include_telecare=policy.include_telecare,
        telecare_may_unlock=policy.telecare_may_unlock,
        by=person_id,
        at=now,
    )
    append(
        session,
        AuditAction.ESCALATION_POLICY_CHANGED,
        actor=person_ref(person_id),
        at=now,
        subjects=[ref(RefKind.HOME, home_id), *(person_ref(p) for p in policy.contacts)],
        details={
            "contacts": len(policy.contacts),
            "step_timeout_s": policy.step_timeout_s,
            "include_telecare": policy.include_telecare,
            "telecare_may_unlock": policy.telecare_may_unlock,
        },
    )
    return policy


def plan_for(session: Session, home_id: str, policy: Policy) -> list[dict[str, Any]]:
    """The steps after the family: each contact still in the family, then telecare."""
    family = people_with_role(session, home_id, FAMILY_ROLES)
    plan: list[dict[str, Any]] = [
        {"kind": "person", "to": [p]} for p in policy.contacts if p in family
    ]
    officers = people_with_role(session, home_id, (Role.TELECARE_OFFICER,))
    if policy.include_telecare and officers:
        plan.append({"kind": "telecare", "to": officers})
    return plan


def ring_url(home_id: str, event_id: str | None = None) -> str:
    """The family's ring screen; with the ring's id it opens on that ring's card."""
    return f"/homes/{home_id}" if event_id is None else f"/homes/{home_id}?ring={event_id}"


def names_of(session: Session, person_ids: Iterable[str]) -> dict[str, str]:
    """Display names of the people still on record (an erased person has none)."""
    wanted = {p for p in person_ids if p}
    if not wanted:
        return {}
    rows = session.execute(select(Person.id, Person.display_name).where(Person.id.in_(wanted)))
    return {person: name for person, name in rows}


def receipts(session: Session, key: str) -> dict[str, str] | None:
    """Delivery / seen receipts of one notification (None: the notify layer has none yet)."""
    try:
        module = importlib.import_module("hub.notify.receipts")
    except ImportError:
        return None
    try:
        return dict(module.states(session, key))
    except Exception:  # the receipts are information, never a reason to fail a page
        log.exception("reading receipts of %s failed", key)
        return None


def telecare_access(
    session: Session, esc: RingEscalation, person_id: str, now: datetime
) -> EscalationStep | None:
    """The telecare step through which ``person_id`` may see this ring now, if any."""
    for step in steps_of(session, esc.id):
        if step.kind != "telecare" or person_id not in step.recipients:
            continue
        if step.access_until is not None and step.access_until > now:
            return step
    return None


def may_follow(session: Session, esc: RingEscalation, person_id: str, now: datetime) -> bool:
    """Family who see the home's rings, or an officer this ring reached (for its time box)."""
    if Permission.VIEW_EVENTS in permissions(session, person_id, esc.home_id):
        return True
    return telecare_access(session, esc, person_id, now) is not None


def ring_unlock(
    esc_id: str, person_id: str, now: datetime
) -> Callable[[Session, Any], dict[str, Any]]:
    """The command service's ``authorise`` hook for an officer this ring reached.

    Allowed only when the home's policy (as it was when the ring came) lets telecare
    unlock, for that ring's door, within the officer's ring-scoped time box.
    """

    def check(s: Session, device: Any) -> dict[str, Any]:
        esc = get_escalation(s, esc_id)
        if esc is None or esc.device_id != device.id:
            raise NotAuthorised("this escalation is not about this door")
        if telecare_access(s, esc, person_id, now) is None:
            raise NotAuthorised("this ring did not reach you, or your access to it has ended")
        if not esc.telecare_may_unlock:
            raise NotAuthorised(
                "this home's policy does not let telecare unlock; call the family or 999"
            )
        return {"by_escalation": esc.id, "event_id": esc.event_id}

    return check
