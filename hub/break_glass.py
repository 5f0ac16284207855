"""Break-glass: a telecare officer opens a door in an emergency, with a stated reason.

Opening a box needs ``Permission.BREAK_GLASS`` (telecare officers) in the door's home and
a reason of at least ``MIN_REASON`` characters; the web app also requires a fresh
step-up. A box covers one door for ``BOX_S`` seconds (15 minutes): every unlock of that
door by that officer inside the box goes through the normal command path (signed,
rate-limited, step-up), counted on the box and audited with its id. The family is told
at once (message ``break_glass``, safety); every box stays listed until a reviewer (the
family owner or an administrator) marks it reviewed with a note, which is audited too.

    box, notice = open_box(s, person_id=officer, device_id=door, reason=why, now=now)
    check = unlock_within(box.id, officer, now)
    hub.commands.request(door, "unlock", person_id=officer, authorise=check)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from .audit import AuditAction, RefKind, append, device_ref, person_ref, ref
from .bus import Notice
from .errors import HubError, NotFound
from .policy import NotAuthorised, Permission, require
from .storage import care
from .storage.devices import get_device
from .storage.homes import get_home
from .storage.models_care import BreakGlass

BOX_S = 900
MIN_REASON = 20
MAX_REASON = 500


class BreakGlassRefused(HubError, ValueError):
    """A reason too short, or a box that has ended or was reviewed."""


def open_box(
    s: Session, *, person_id: str, device_id: str, reason: str, now: datetime, box_s: int = BOX_S
) -> tuple[BreakGlass, Notice | None]:
    """Open a time-boxed emergency access to one door (audited); returns the family's notice
    (None: no family to tell), to be posted once the transaction commits."""
    device = get_device(s, device_id)
    require(s, person_id, device.home_id, Permission.BREAK_GLASS)
    reason = " ".join(reason.split())
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise BreakGlassRefused(
            f"say why in {MIN_REASON} to {MAX_REASON} characters (got {len(reason)}): "
            "the family and the reviewer will read it"
        )
    assert device.home_id is not None  # require() refused a door without a home
    box = care.open_box(
        s,
        home_id=device.home_id,
        device_id=device_id,
        person_id=person_id,
        reason=reason,
        at=now,
        expires_at=now + timedelta(seconds=box_s),
    )
    append(
        s,
        AuditAction.BREAK_GLASS,
        actor=person_ref(person_id),
        at=now,
        subjects=[device_ref(device_id), ref(RefKind.BREAK_GLASS, box.id)],
        # The reason stays in the box's row (it may name people); the chain holds its length.
        details={
            "opened": True,
            "expires_at": box.expires_at.isoformat(),
            "reason_chars": len(reason),
        },
    )
    home = get_home(s, device.home_id)
    family = care.people_with_role(s, device.home_id, care.FAMILY_ROLES)
    notice = Notice(
        "notify",
        device_id,
        {
            "to": family,
            "message_kind": "break_glass",
            "key": f"break_glass:{box.id}",
            "title": "Emergency access to the door",
            "body": f"A telecare officer opened {device.name or 'the door'} at {home.name} "
            f"in an emergency: {reason}",
            "url": f"/homes/{device.home_id}",
            "tag": f"break_glass:{box.id}",
            "safety": True,
            "extra": {"break_glass": box.id, "device": device_id},
        },
        device.home_id,
    )
    return box, (notice if family else None)


def unlock_within(
    box_id: str, person_id: str, now: datetime
) -> Callable[[Session, Any], dict[str, Any]]:
    """The command service's ``authorise`` hook: an unlock inside this officer's open box."""

    def check(s: Session, device: Any) -> dict[str, Any]:
        box = care.get_box(s, box_id)
        if box is None or box.person_id != person_id or box.device_id != device.id:
            raise NotAuthorised("no break-glass of yours for this door")
        if now >= box.expires_at:
            raise NotAuthorised("this break-glass has ended: open a new one, with its reason")
        # Still an officer of the home: a box does not outlive the role.
        require(s, person_id, device.home_id, Permission.BREAK_GLASS)
        box.unlocks += 1
        return {"break_glass": box.id}

    return check


def review(s: Session, box_id: str, *, person_id: str, note: str, now: datetime) -> BreakGlass:
    """Mark a box reviewed (family owner or administrator; audited)."""
    box = care.get_box(s, box_id)
    if box is None:
        raise NotFound(f"no break-glass {box_id!r}")
    require(s, person_id, box.home_id, Permission.REVIEW_BREAK_GLASS)
    if box.reviewed_at is not None:
        raise BreakGlassRefused("already reviewed")
    note = note.strip()
    if not note:
        raise BreakGlassRefused("write a short note of what the review found")
    box.reviewed_at, box.reviewed_by, box.review_note = now, person_id, note[:1000]
    append(
        s,
        AuditAction.BREAK_GLASS_REVIEWED,
        actor=person_ref(person_id),
        at=now,
        subjects=[device_ref(box.device_id), ref(RefKind.BREAK_GLASS, box.id)],
        details={"unlocks": box.unlocks},
    )
    return box


def describe(box: BreakGlass, now: datetime) -> dict[str, object]:
    return {
        "id": box.id,
        "home": box.home_id,
        "device": box.device_id,
        "person": box.person_id,
        "reason": box.reason,
        "opened_at": box.opened_at.isoformat(),
        "expires_at": box.expires_at.isoformat(),
        "active": now < box.expires_at,
        "unlocks": box.unlocks,
        "reviewed_at": box.reviewed_at.isoformat() if box.reviewed_at else None,
        "reviewed_by": box.reviewed_by,
        "review_note": box.review_note,
    }
