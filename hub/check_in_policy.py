"""What a carer's check-in may lead to, by the home's policy (set by the family owner).

- Nothing, by default: the check-in only tells the family who is at the door.
- **Family approval** (per home): the family is asked, by a notification that opens the
  ring screen, to let the carer in; the approval is an ordinary unlock with a fresh
  second-factor code (``hub.commands``), never an unlock from the notification itself.
- **Auto-unlock** (per carer, only where the owner enabled it for that carer): the
  check-in itself sends the signed unlock, requested by the carer and audited as
  ``auto_unlocked`` in the same transaction as the command.

    outcome = after_check_in(db, bus, commands, result)   # the route calls it after commit
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit import AuditAction, RefKind, append, person_ref, ref
from .bus import Notice, NoticeBus
from .commands import CommandError, CommandService
from .policy import NotAuthorised, Permission, permissions
from .storage.database import Database
from .storage.devices import list_devices
from .storage.homes import get_home, members_of
from .storage.models_events import Event
from .storage.models_registry import Device, Person, Role
from .storage.visit_records import add_approval, auto_unlock_enabled, family_approves
from .storage.visits import get_window
from .visits import CheckInResult, occurrence_at


@dataclass(frozen=True, slots=True)
class CheckInOutcome:
    kind: str  # "none", "approval_requested", "auto_unlock", "auto_unlock_failed"
    approval_id: str | None = None
    command_id: str | None = None
    detail: str = ""


def after_check_in(
    db: Database, bus: NoticeBus, commands: CommandService, result: CheckInResult
) -> CheckInOutcome:
    """Apply the home's policy to a new check-in (after the check-in's commit)."""
    with db.read_session() as s:
        auto = auto_unlock_enabled(s, result.home_id, result.carer) is not None
        approve = family_approves(s, result.home_id)
        door = door_for(s, result.home_id, result.at)
    if auto:
        return _auto_unlock(commands, result, door)
    if approve:
        return _ask_family(db, bus, result)
    return CheckInOutcome("none")


def door_for(s: Session, home_id: str, at: datetime) -> str | None:
    """The door rung at in the hour before ``at``, else the home's only door."""
    doors = [d.id for d in list_devices(s, home_id=home_id)]
    since = at - timedelta(hours=1)
    rang = s.scalars(
        select(Event.device_id)
        .where(Event.device_id.in_(doors), Event.kind == "ring", Event.device_time >= since)
        .order_by(Event.device_time.desc())
        .limit(1)
    ).first()
    if rang is not None:
        return rang
    return doors[0] if len(doors) == 1 else None


def _auto_unlock(
    commands: CommandService, result: CheckInResult, door: str | None
) -> CheckInOutcome:
    if door is None:
        return CheckInOutcome("auto_unlock_failed", detail="no single door to unlock: ring")

    def authorise(s: Session, device: Device) -> dict[str, Any]:
        # Checked again inside the command's own transaction: still enabled, still a carer.
        enabled = auto_unlock_enabled(s, result.home_id, result.carer)
        if enabled is None or device.home_id != result.home_id:
            raise NotAuthorised("auto-unlock on check-in is not enabled for this carer")
        if Permission.CHECK_IN not in permissions(s, result.carer, result.home_id):
            raise NotAuthorised("you are no longer a carer of this home: ask the family")
        append(
            s,
            AuditAction.AUTO_UNLOCKED,
            actor=person_ref(result.carer),
            at=commands.clock(),
            subjects=[
                ref(RefKind.HOME, result.home_id),
                ref(RefKind.VISIT, result.window_id),
                ref(RefKind.DEVICE, device.id),
            ],
            details={"enabled_by": enabled.enabled_by, "checked_in_at": result.at.isoformat()},
        )
        return {"automatic": "check_in", "enabled_by": enabled.enabled_by}

    try:
        ticket = commands.request(
            door,
            "unlock",
            person_id=result.carer,
            reason="automatic unlock on check-in",
            authorise=authorise,
        )
    except (CommandError, NotAuthorised) as exc:
        return CheckInOutcome("auto_unlock_failed", detail=str(exc))
    return CheckInOutcome("auto_unlock", command_id=ticket.id, detail=ticket.status)


def _ask_family(db: Database, bus: NoticeBus, result: CheckInResult) -> CheckInOutcome:
    with db.session() as s:
        window = get_window(s, result.window_id)
        home = get_home(s, result.home_id)
        occurrence = occurrence_at(window, ZoneInfo(home.timezone), result.at)
        if occurrence is None:  # the check-in was refused outside the window already
            return CheckInOutcome("none")
        expires = occurrence.end.astimezone(UTC) + occurrence.tolerance
        approval = add_approval(
            s,
            home_id=result.home_id,
            window_id=result.window_id,
            carer_id=result.carer,
            at=result.at,
            expires_at=expires,
        )
        append(
            s,
            AuditAction.CHECK_IN_APPROVAL_REQUESTED,
            actor=person_ref(result.carer),
            at=result.at,
            subjects=[ref(RefKind.HOME, result.home_id), ref(RefKind.VISIT, result.window_id)],
            details={"approval": approval.id, "expires_at": expires.isoformat()},
        )
        notice = approval_notice(s, approval.id, result, home.name, occurrence.start)
    bus.post(notice)
    return CheckInOutcome("approval_requested", approval_id=approval.id)


def approval_notice(
    s: Session, approval_id: str, result: CheckInResult, home_name: str, start: datetime
) -> Notice:
    """The "let them in?" notification: it opens the ring screen, it never unlocks."""
    carer = s.get(Person, result.carer)
    who = carer.display_name if carer is not None else "Your carer"
    window = get_window(s, result.window_id)
    agency = f" ({window.agency})" if window.agency else ""
    return Notice(
        "notify",
        "",
        {
            "to": approvers(s, result.home_id),
            "message_kind": "checkin_approval_request",
            "key": f"checkin_approval:{approval_id}",
            "title": f"{who} is at the door",
            "body": f"{who}{agency} checked in at {home_name} for the {start:%H:%M} visit. "
            "Open to let them in.",
            "url": f"/homes/{result.home_id}?approval={approval_id}",
            "tag": f"checkin-{approval_id}",
            "safety": False,
            "extra": {"home_id": result.home_id, "approval_id": approval_id},
        },
        result.home_id,
        result.at,
    )


def approvers(s: Session, home_id: str) -> list[str]:
    """Family of the home who may unlock, each once."""
    people: list[str] = []
    for m in members_of(s, home_id):
        if Role(m.role) not in (Role.FAMILY_OWNER, Role.FAMILY_MEMBER) or m.person_id in people:
            continue
        if Permission.UNLOCK in permissions(s, m.person_id, home_id):
            people.append(m.person_id)
    return people
