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

Each step, and the end (answered or not), is also posted as an ``escalation`` notice
(ids and step numbers only) so the family's open ring card can follow it live; the
page reads the names and receipts from ``GET /api/rings/{event_id}/escalation``.
The rules (policy, plan, who may follow) are in ``hub.escalation_policy``; what each
step tells people, and the live notice, in ``hub.escalation_notices``.

    engine = EscalationEngine(db, bus, clock=clock)
    engine.start(); jobs.add("escalation", 1.0, engine.tick)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from protocol.base import utcnow

from .audit import AuditAction, RefKind, append, device_ref, person_ref, ref, service_ref
from .bus import Notice, NoticeBus
from .escalation_notices import progress_notice, tell_notice
from .escalation_policy import ACCESS_S, Policy, effective_policy, may_follow, plan_for
from .escalation_policy import set_policy as set_policy
from .policy import NotAuthorised
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
    people_with_role,
    running_for_device,
    start_escalation,
)
from .storage.database import Database
from .storage.models_care import RingEscalation
from .storage.snapshots import snapshots_for_event

# The rules live in hub.escalation_policy; these stay importable from here for callers.
__all__ = ["ACCESS_S", "EscalationEngine", "Policy", "progress_notice", "set_policy"]

log = logging.getLogger(__name__)

# Notices after which a door's running escalation may have been answered (an unlock
# asked for, the door opened, the lock released); the database says whether it was.
ANSWERS = frozenset({"command", "door", "lock"})


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
        notices: list[Notice] = []
        with self.db.session() as s:
            esc = running_for_device(s, device_id)
            answer = answer_since(s, device_id, esc.ring_at) if esc is not None else None
            if esc is None or answer is None:
                return False
            self._answered(s, esc, now, answer, notices)
        self._post(notices)
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
                self._post(notices)
            return taken

    def _post(self, notices: list[Notice]) -> None:
        for notice in notices:  # after the commit: a listener reads what the notice says
            self.bus.post(notice)

    def _advance(
        self, s: Session, esc_id: str, step: int, now: datetime, notices: list[Notice]
    ) -> int:
        esc = get_escalation(s, esc_id)
        if esc is None or esc.status != "running":
            return 0
        answer = answer_since(s, esc.device_id, esc.ring_at)
        if answer is not None:
            self._answered(s, esc, now, answer, notices)
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
            notices.append(tell_notice(s, esc, key, planned["to"], "ring_escalated", telecare))
            notices.append(progress_notice(esc, "running", step + 1, planned["kind"]))
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
            notices.append(tell_notice(s, esc, key, everyone, "ring_unanswered", True))
        notices.append(progress_notice(esc, UNANSWERED, step + 1, "unanswered"))
        return 1

    def _answered(
        self, s: Session, esc: RingEscalation, now: datetime, answer: str, notices: list[Notice]
    ) -> None:
        if not finish(s, esc.id, status=ANSWERED, at=now, answered_by=answer):
            return
        # Audited only once someone beyond the family was told: most rings are answered
        # in time, and an entry for each would only cost the log (and a Pi's SD card).
        if esc.next_step:
            self._audit(s, esc, now, {"outcome": "answered", "by": answer})
            notices.append(progress_notice(esc, ANSWERED, esc.next_step, "answered"))

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
            notice = progress_notice(esc, ANSWERED, esc.next_step, "answered")
        if stopped:
            self.bus.post(notice)
        return stopped
