"""Unanswered-ring escalation: when nobody answers a ring, tell the next person, then
(if the home opted in) the telecare service, then record that nobody answered.

The ring itself goes to the family (the notification layer's first wave). If nobody
*answers* within the home's step timeout, the first escalation contact is told, one
timeout later the next, then the home's telecare officers, and one timeout after the
last step a final "nobody answered" (message ``ring_unanswered``, safety).

Answered means any of: an unlock of that door was asked for (by anyone), the door was
opened or its lock released (also from inside: someone let the visitor in), or a family
member or an officer reached by this escalation said "I'm dealing with it"
(:meth:`EscalationEngine.acknowledge`). A carer's check-in is *not* an answer: it says
who is outside, not that anyone let them in.

Answers are noticed at once from the hub's notice board (the database says whether a
notice was one) and checked again before every step. Restart-safe: the plan, the next
step and its due time are rows (``hub.storage.care``); the job claims each step with a
conditional update, so several hub processes, or a restart mid-escalation, never skip
or repeat a step.

    engine = EscalationEngine(db, bus, clock=clock)
    engine.start(); jobs.add("escalation", 1.0, engine.tick)
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from protocol.base import utcnow

from .audit import AuditAction, RefKind, append, device_ref, person_ref, ref, service_ref
from .bus import Notice, NoticeBus
from .errors import HubError
from .policy import NotAuthorised, Permission, permissions, require
from .storage.care import (
    ANSWERED,
    FAMILY_ROLES,
    UNANSWERED,
    add_step,
    answer_since,
    claim_step,
    due,
    finish,
    get_escalation,
    get_policy,
    people_with_role,
    running_for_device,
    save_policy,
    start_escalation,
    steps_of,
)
from .storage.database import Database
from .storage.homes import get_home
from .storage.models_care import EscalationStep, RingEscalation
from .storage.models_registry import Role
from .storage.snapshots import snapshots_for_event

log = logging.getLogger(__name__)

# Notices after which a door's running escalation may have been answered (an unlock
# asked for, the door opened, the lock released); the database says whether it was.
ANSWERS = frozenset({"command", "door", "lock"})
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


def ring_url(home_id: str) -> str:
    return f"/homes/{home_id}"


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


class EscalationEngine:
    def __init__(
        self,
        db: Database,
        bus: NoticeBus,
        *,
        clock: Callable[[], datetime] = utcnow,
        access_s: int = ACCESS_S,
    ) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.access_s = access_s
        self._tick_lock = threading.Lock()  # one pass at a time in this process
        self._sub = bus.subscribe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="hub-escalation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._sub.close()
        if self._thread.is_alive():
            self._thread.join(5)

    # -- rings ------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.is_set():
            notice = self._sub.get(timeout=0.5)
            if notice is None or notice.home_id is None:
                continue
            try:
                if notice.kind == "ring":
                    self.begin(notice)
                elif notice.kind in ANSWERS:
                    self.check_answer(notice.device_id)
            except Exception:
                log.exception("following a %s notice of %s failed", notice.kind, notice.device_id)

    def check_answer(self, device_id: str) -> bool:
        """Stop the door's running escalation if it was answered (the tick checks again)."""
        now = self.clock()
        with self.db.session() as s:
            esc = running_for_device(s, device_id)
            answer = answer_since(s, device_id, esc.ring_at) if esc is not None else None
            if esc is None or answer is None:
                return False
            self._answered(s, esc, now, answer)
            return True

    def begin(self, notice: Notice) -> RingEscalation | None:
        """Start escalating a ring (None: this ring or an earlier one at the door already is)."""
        event_id = str(notice.data.get("event_id") or "")
        if not event_id or notice.home_id is None:
            return None
        with self.db.session() as s:
            if running_for_device(s, notice.device_id) is not None:
                return None  # a second ring while the first waits: one escalation
            policy = effective_policy(s, notice.home_id)
            snapshot = notice.data.get("snapshot_id")
            if snapshot is None:
                found = snapshots_for_event(s, event_id)
                snapshot = found[0].id if found else None
            timeout = timedelta(seconds=policy.step_timeout_s)
            esc = start_escalation(
                s,
                event_id=event_id,
                home_id=notice.home_id,
                device_id=notice.device_id,
                snapshot_id=snapshot,
                ring_at=notice.at,
                plan=plan_for(s, notice.home_id, policy),
                step_timeout_s=policy.step_timeout_s,
                telecare_may_unlock=policy.telecare_may_unlock,
                first_due_at=notice.at + timeout,
            )
            if esc is not None:
                s.expunge(esc)
            return esc

    # -- the job ----------------------------------------------------------------
    def tick(self) -> int:
        """One pass over the due escalations: stop the answered ones, take the next step of
        the others. Returns the steps taken."""
        with self._tick_lock:
            now = self.clock()
            with self.db.read_session() as s:
                ids = [(e.id, e.next_step) for e in due(s, now)]
            taken = 0
            for esc_id, step in ids:
                notices: list[Notice] = []
                with self.db.session() as s:
                    taken += self._advance(s, esc_id, step, now, notices)
                for notice in notices:
                    self.bus.post(notice)
            return taken

    def _advance(
        self, s: Session, esc_id: str, step: int, now: datetime, notices: list[Notice]
    ) -> int:
        esc = get_escalation(s, esc_id)
        if esc is None or esc.status != "running":
            return 0
        answer = answer_since(s, esc.device_id, esc.ring_at)
        if answer is not None:
            self._answered(s, esc, now, answer)
            return 0
        if esc.next_due_at is None or esc.next_due_at > now:
            return 0
        timeout = timedelta(seconds=esc.step_timeout_s)
        if step < len(esc.plan):
            next_due = esc.ring_at + timeout * (step + 2)
            if not claim_step(s, esc.id, step=step, next_due_at=next_due):
                return 0  # another hub process took this step
            planned = esc.plan[step]
            telecare = planned["kind"] == "telecare"
            key = f"escalation:{esc.event_id}:{step + 1}"
            until = now + timedelta(seconds=self.access_s) if telecare else None
            add_step(
                s,
                esc.id,
                step=step + 1,
                kind=planned["kind"],
                recipients=list(planned["to"]),
                notify_key=key,
                at=now,
                access_until=until,
            )
            self._audit(s, esc, now, {"step": step + 1, "to": planned["kind"]}, planned["to"])
            notices.append(self._notice(s, esc, key, planned["to"], "ring_escalated", telecare))
            return 1
        if not finish(s, esc.id, status=UNANSWERED, at=now):
            return 0
        everyone = people_with_role(s, esc.home_id, FAMILY_ROLES)
        for planned in esc.plan:
            everyone += [p for p in planned["to"] if p not in everyone]
        key = f"escalation:{esc.event_id}:unanswered"
        add_step(
            s, esc.id, step=step + 1, kind="unanswered", recipients=everyone, notify_key=key, at=now
        )
        self._audit(s, esc, now, {"outcome": "nobody_answered", "steps": step})
        if everyone:  # a home without family: the record stands, nobody to tell
            notices.append(self._notice(s, esc, key, everyone, "ring_unanswered", True))
        return 1

    def _answered(self, s: Session, esc: RingEscalation, now: datetime, answer: str) -> None:
        # Audited only once someone beyond the family was told: most rings are answered
        # in time, and an entry for each would only cost the log (and a Pi's SD card).
        if finish(s, esc.id, status=ANSWERED, at=now, answered_by=answer) and esc.next_step:
            self._audit(s, esc, now, {"outcome": "answered", "by": answer})

    @staticmethod
    def _audit(
        s: Session,
        esc: RingEscalation,
        now: datetime,
        details: dict[str, Any],
        people: Sequence[str] = (),
    ) -> None:
        append(
            s,
            AuditAction.RING_ESCALATED,
            actor=service_ref("escalation"),
            at=now,
            subjects=[
                device_ref(esc.device_id),
                ref(RefKind.EVENT, esc.event_id),
                ref(RefKind.ESCALATION, esc.id),
                *(person_ref(p) for p in people),
            ],
            details=details,
        )

    @staticmethod
    def _notice(
        s: Session, esc: RingEscalation, key: str, to: list[str], kind: str, telecare: bool
    ) -> Notice:
        home = get_home(s, esc.home_id)
        at = esc.ring_at.astimezone(ZoneInfo(home.timezone))
        if kind == "ring_unanswered":
            title, body = (
                "Nobody answered the door",
                f"Nobody answered the doorbell at {home.name} ({at:%H:%M}).",
            )
        else:
            title = "Nobody has answered the door yet"
            body = (
                f"The doorbell at {home.name} rang at {at:%H:%M} and nobody has answered. "
                "Can you help?"
            )
        url = (
            f"/telecare?escalation={esc.id}"
            if telecare and kind != "ring_unanswered"
            else ring_url(esc.home_id)
        )
        return Notice(
            "notify",
            esc.device_id,
            {
                "to": list(to),
                "message_kind": kind,
                "key": key,
                "title": title,
                "body": body,
                "url": url,
                "tag": f"ring:{esc.event_id}",
                # An unanswered ring at a vulnerable person's door is what quiet hours
                # must never hide from the people who agreed to be on its list.
                "safety": True,
                "extra": {"escalation": esc.id, "event_id": esc.event_id, "device": esc.device_id},
            },
            esc.home_id,
        )

    # -- answers ----------------------------------------------------------------
    def acknowledge(self, esc_id: str, person_id: str) -> bool:
        """ "I'm dealing with it": stops the escalation (audited). False if it had stopped."""
        now = self.clock()
        with self.db.session() as s:
            esc = get_escalation(s, esc_id)
            if esc is None or not may_follow(s, esc, person_id, now):
                raise NotAuthorised(
                    "only the family, or an officer this ring reached, may answer it"
                )
            stopped = finish(s, esc.id, status=ANSWERED, at=now, answered_by=person_ref(person_id))
            append(
                s,
                AuditAction.RING_ACKNOWLEDGED,
                actor=person_ref(person_id),
                at=now,
                subjects=[device_ref(esc.device_id), ref(RefKind.ESCALATION, esc.id)],
                details={"stopped": stopped},
            )
            return stopped


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
