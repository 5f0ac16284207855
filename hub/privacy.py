"""The privacy switch: pausing a home's door cameras, and what the doors report.

The switch is a signed ``set_privacy`` command through the normal command path
(authorised as SET_PRIVACY, audited at every step). The hub never assumes it took
effect: the state it shows is the one each door reported (its ``privacy_changed``
event and retained state). While a door reports privacy on, the command service
refuses snapshot and live-view requests (``PrivacyOn``, a 409 on the web).

    ticket = set_privacy(hub, "door-1a2b3c", True, person_id=owner)
    privacy_of_home(session, home_id)   # [{"device": ..., "privacy": True, ...}]
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from .audit import AuditAction, RefKind, append, person_ref, ref
from .commands import PICTURE_ACTIONS, CommandTicket, PrivacyOn
from .storage.devices import list_devices
from .storage.homes import get_home, update_home

if TYPE_CHECKING:
    from .service import Hub

__all__ = [
    "PICTURE_ACTIONS",
    "PrivacyOn",
    "home_private",
    "privacy_of_home",
    "set_privacy",
    "set_retention",
]


def set_privacy(hub: Hub, device_id: str, on: bool, *, person_id: str) -> CommandTicket:
    """Ask the door to pause (``on``) or resume its camera; the door's answer decides."""
    return hub.commands.request(device_id, "set_privacy", person_id=person_id, privacy=on)


def privacy_of_home(session: Session, home_id: str) -> list[dict[str, Any]]:
    """Each door of the home with the privacy state it last reported."""
    return [
        {
            "device": d.id,
            "name": d.name,
            "privacy": d.privacy,
            "reported_at": d.state_received_at.isoformat() if d.state_received_at else None,
        }
        for d in list_devices(session, home_id=home_id)
    ]


def home_private(session: Session, home_id: str) -> bool:
    """True when every door of the home reports its camera paused (and there is one)."""
    doors = list_devices(session, home_id=home_id)
    return bool(doors) and all(d.privacy for d in doors)


def set_retention(session: Session, home_id: str, days: int, *, by: str, at: datetime) -> int:
    """Keep the home's snapshots ``days`` days (1-3650); audited. Returns the old value.

    The hub's retention job deletes older ones on its next run (``hub.retention``).
    """
    before = get_home(session, home_id).retention_days
    update_home(session, home_id, retention_days=days)  # raises InvalidValue out of range
    append(
        session,
        AuditAction.RETENTION_CHANGED,
        actor=person_ref(by),
        at=at,
        subjects=[ref(RefKind.HOME, home_id)],
        details={"before_days": before, "after_days": days},
    )
    return before
