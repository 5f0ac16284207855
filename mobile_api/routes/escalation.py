"""A home's escalation policy, and following (or answering) an escalated ring.

GET  /api/homes/{home}/escalation                 the policy (family)
PUT  /api/homes/{home}/escalation                 set it (family owner: MANAGE_ESCALATION; audited)
GET  /api/rings/{event_id}/escalation             a ring's escalation: steps, receipts, status
                                                  (names too, for the family: the ring card)
POST /api/escalations/{escalation_id}/acknowledge "I'm dealing with it": stops it (audited)
GET  /api/escalations/mine                        an officer's rings that reached them, access open
GET  /api/escalations/{escalation_id}/snapshot    that ring's picture, for an officer it reached
POST /api/escalations/{escalation_id}/unlock      that ring's door, if the home's policy allows

An officer reached by escalation holds no standing right: their access is scoped to
the one ring and ends with its time box; every use is audited and the family told.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.audit import AuditAction, RefKind, append, device_ref, person_ref, ref
from hub.bus import Notice
from hub.escalation_policy import (
    MAX_CONTACTS,
    STEP_LIMITS_S,
    Policy,
    PolicyInvalid,
    effective_policy,
    may_follow,
    names_of,
    receipts,
    ring_unlock,
    ring_url,
    set_policy,
    telecare_access,
)
from hub.policy import NotAuthorised, Permission, permissions
from hub.service import Hub
from hub.storage.care import (
    FAMILY_ROLES,
    device_of_event,
    escalation_of_ring,
    get_escalation,
    people_with_role,
    steps_of,
    telecare_steps_for,
)
from hub.storage.devices import get_device
from hub.storage.models_care import RingEscalation
from hub.storage.snapshots import get_snapshot

from ..commanding import send_command
from ..deps import CurrentPerson, CurrentSession, HubDep, Now, SettingsDep, authorise
from ..security import stepped_up
from .auth import step_up_with

router = APIRouter(prefix="/api", tags=["escalation"])


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contacts: list[str] = Field(
        default_factory=list,
        max_length=MAX_CONTACTS,
        description="Family members to tell, in order, after the first wave.",
    )
    step_timeout_s: int = Field(60, ge=STEP_LIMITS_S[0], le=STEP_LIMITS_S[1])
    include_telecare: bool = Field(False, description="Tell the telecare service last.")
    telecare_may_unlock: bool = Field(
        False, description="An officer reached by escalation may unlock (with step-up)."
    )


class StepUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    totp: str | None = Field(None, max_length=10)


def _policy(p: Policy) -> dict[str, object]:
    return {
        "contacts": list(p.contacts),
        "step_timeout_s": p.step_timeout_s,
        "include_telecare": p.include_telecare,
        "telecare_may_unlock": p.telecare_may_unlock,
    }


@router.get("/homes/{home}/escalation")
def get_policy(home: str, person: CurrentPerson, hub: HubDep) -> dict[str, object]:
    with hub.db.read_session() as s:
        mine = permissions(s, person, home)
        if not mine & {Permission.VIEW_EVENTS, Permission.MANAGE_ESCALATION}:
            authorise(s, person, home, Permission.MANAGE_ESCALATION)
        return _policy(effective_policy(s, home))


@router.put("/homes/{home}/escalation")
def put_policy(
    home: str, body: PolicyBody, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, object]:
    wanted = Policy(
        tuple(body.contacts), body.step_timeout_s, body.include_telecare, body.telecare_may_unlock
    )
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_ESCALATION)
        try:
            return _policy(set_policy(s, home, person, wanted, now))
        except PolicyInvalid as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _describe(s: Session, esc: RingEscalation, *, named: bool = False) -> dict[str, object]:
    """The escalation as the API shows it; ``named`` (the family) adds people's names."""
    steps = steps_of(s, esc.id)
    answerer = (esc.answered_by or "").removeprefix("person:")
    names = names_of(s, [answerer, *(p for st in steps for p in st.recipients)]) if named else {}
    return {
        "id": esc.id,
        "event_id": esc.event_id,
        "home": esc.home_id,
        "device": esc.device_id,
        "ring_at": esc.ring_at.isoformat(),
        "status": esc.status,
        "step_timeout_s": esc.step_timeout_s,
        "next_due_at": esc.next_due_at.isoformat() if esc.next_due_at else None,
        "answered_at": esc.answered_at.isoformat() if esc.answered_at else None,
        "answered_by": esc.answered_by,
        "answered_by_name": names.get(answerer),
        "telecare_may_unlock": esc.telecare_may_unlock,
        "steps_planned": len(esc.plan),
        "steps": [
            {
                "step": st.step,
                "kind": st.kind,
                "to": st.recipients,
                "names": [names[p] for p in st.recipients if p in names],
                "at": st.at.isoformat(),
                "access_until": st.access_until.isoformat() if st.access_until else None,
                "receipts": receipts(s, st.notify_key),
            }
            for st in steps
        ],
    }


@router.get("/rings/{event_id}/escalation")
def ring_escalation(
    event_id: str, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, object]:
    with hub.db.read_session() as s:
        esc = escalation_of_ring(s, event_id)
        if esc is None:
            device = device_of_event(s, event_id)
            home = get_device(s, device).home_id if device is not None else None
            authorise(s, person, home, Permission.VIEW_EVENTS)
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this ring was not escalated")
        if not may_follow(s, esc, person, now):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not a ring of your home")
        # Names for the family (who see the home's events); an officer it reached gets ids.
        family = Permission.VIEW_EVENTS in permissions(s, person, esc.home_id)
        return _describe(s, esc, named=family)


@router.get("/escalations/mine")
def mine(person: CurrentPerson, hub: HubDep, now: Now) -> list[dict[str, object]]:
    with hub.db.read_session() as s:
        out = []
        for step in telecare_steps_for(s, person, now):
            esc = get_escalation(s, step.escalation_id)
            if esc is not None:
                out.append(_describe(s, esc) | {"access_until": step.access_until.isoformat()})  # type: ignore[union-attr]
        return out


def _reached(s: Session, escalation_id: str, person: str, now: Now) -> RingEscalation:
    esc = get_escalation(s, escalation_id)
    if esc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such escalation")
    if telecare_access(s, esc, person, now) is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this ring did not reach you, or your access to it has ended"
        )
    return esc


def _tell_family(hub: Hub, esc: RingEscalation, what: str, key: str, title: str, body: str) -> None:
    with hub.db.read_session() as s:
        family = people_with_role(s, esc.home_id, FAMILY_ROLES)
    if not family:
        return
    data = {
        "to": family,
        "message_kind": "ring_escalated",
        "key": key,
        "title": title,
        "body": body,
        "url": ring_url(esc.home_id, esc.event_id),
        "tag": f"ring:{esc.event_id}",
        "safety": True,
        "extra": {"escalation": esc.id, "event_id": esc.event_id, "telecare": what},
    }
    hub.bus.post(Notice("notify", esc.device_id, data, esc.home_id))


@router.post("/escalations/{escalation_id}/acknowledge")
def acknowledge(escalation_id: str, person: CurrentPerson, hub: HubDep) -> dict[str, object]:
    try:
        stopped = hub.escalation.acknowledge(escalation_id, person)
    except NotAuthorised as exc:
        with hub.db.read_session() as s:
            if get_escalation(s, escalation_id) is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such escalation") from None
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    return {"stopped": stopped}


@router.get("/escalations/{escalation_id}/snapshot", response_class=Response)
def snapshot(escalation_id: str, person: CurrentPerson, hub: HubDep, now: Now) -> Response:
    with hub.db.session() as s:
        esc = _reached(s, escalation_id, person, now)
        meta = get_snapshot(s, esc.snapshot_id) if esc.snapshot_id else None
        if meta is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, "this ring has no picture (or it was purged)"
            )
        append(
            s,
            AuditAction.SNAPSHOT_VIEWED,
            actor=person_ref(person),
            at=now,
            subjects=[
                device_ref(esc.device_id),
                ref(RefKind.SNAPSHOT, meta.id),
                ref(RefKind.ESCALATION, esc.id),
            ],
            details={"by_escalation": esc.id},
        )
        sha = meta.sha256
    _tell_family(
        hub,
        esc,
        "viewed",
        f"escalation:{esc.event_id}:viewed:{person}",
        "Telecare is looking at the ring",
        "A telecare officer reached by the escalation viewed the ring's picture.",
    )
    return Response(
        hub.files.read(sha), media_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )


@router.post("/escalations/{escalation_id}/unlock", status_code=202)
def unlock(
    escalation_id: str,
    ctx: CurrentSession,
    hub: HubDep,
    settings: SettingsDep,
    now: Now,
    body: StepUp | None = None,
) -> dict[str, str]:
    with hub.db.read_session() as s:
        esc = _reached(s, escalation_id, ctx.person_id, now)
        s.expunge(esc)
    code = body.totp if body is not None else None
    if code is None and not stepped_up(ctx, settings, now):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"confirm it is you: step up with your code (valid {settings.step_up_window_s} s)",
        )
    step_up = None if code is None else partial(step_up_with, ctx=ctx, code=code, now=now)
    result = send_command(
        hub,
        esc.device_id,
        "unlock",
        person_id=ctx.person_id,
        reason="escalated ring",
        within=step_up,
        authorise=ring_unlock(esc.id, ctx.person_id, now),
    )
    _tell_family(
        hub,
        esc,
        "unlocked",
        f"escalation:{esc.event_id}:unlock:{result['command_id']}",
        "Telecare unlocked the door",
        "Nobody answered the ring, so a telecare officer unlocked the door.",
    )
    return result
