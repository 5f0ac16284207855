"""Who hears about what, and what the message says.

A ring goes to the home's family (owner and members) who may view its events; each
gets one message naming who is expected now, opening the ring screen ``/homes/{home}``.

    people = ring_recipients(s, home_id)
    title, body, data = ring_text(s, home_id, notice)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..bus import Notice
from ..policy import Permission, permissions
from ..storage.homes import get_home, members_of
from ..storage.models_registry import Role
from ..visits import expected_at

FAMILY = (Role.FAMILY_OWNER, Role.FAMILY_MEMBER)
MAX_EXPECTED = 3  # a push payload holds ~4 KB; the page shows the full list


def ring_recipients(session: Session, home_id: str) -> list[str]:
    """Family of the home with the right to see its rings, each once, in a stable order."""
    people: list[str] = []
    for m in members_of(session, home_id):
        if Role(m.role) not in FAMILY or m.person_id in people:
            continue
        if Permission.VIEW_EVENTS in permissions(session, m.person_id, home_id):
            people.append(m.person_id)
    return people


def alert_recipients(session: Session, home_id: str) -> list[str]:
    """Family who may see the home's health, and its telecare officers (the escalation)."""
    people: list[str] = []
    for m in members_of(session, home_id):
        role = Role(m.role)
        if role not in (*FAMILY, Role.TELECARE_OFFICER) or m.person_id in people:
            continue
        if Permission.VIEW_HEALTH in permissions(session, m.person_id, home_id):
            people.append(m.person_id)
    return people


# Alert kinds (hub.storage.models_commands.AlertKind values) that notify, and their wording.
# An unanswered ring and a carer who did not arrive are not here: their owners
# (hub.escalation, hub.visit_alerts) tell people themselves with "notify" requests,
# following the home's escalation list and telecare opt-in; routing their alerts too
# would send everyone a second message and reach telecare in homes that did not opt in.
ALERT_MESSAGES = {
    "device_offline": ("device_offline", "Doorbell offline", "The doorbell at {home} is offline."),
    "door_left_unlocked": (
        "door_left_unlocked",
        "Door left unlocked",
        "The front door at {home} has been left unlocked.",
    ),
}


def alert_text(
    session: Session, home_id: str, notice: Notice
) -> tuple[str, str, str, dict[str, Any]]:
    """(message kind, title, body, data) of an alert, or raises KeyError if it does not notify."""
    kind, title, body = ALERT_MESSAGES[str(notice.data.get("alert"))]
    home = get_home(session, home_id)
    at = notice.at.astimezone(ZoneInfo(home.timezone))
    data = {
        "home": home.name,
        "home_id": home_id,
        "device": notice.device_id,
        "alert_id": notice.data.get("alert_id"),
        "at": f"{at:%H:%M}",
    }
    return kind, title, body.format(home=home.name), data


def ring_url(home_id: str) -> str:
    return f"/homes/{home_id}"


def ring_text(session: Session, home_id: str, notice: Notice) -> tuple[str, str, dict[str, Any]]:
    """(title, body, data) of a ring notification at ``notice.at``."""
    home = get_home(session, home_id)
    at: datetime = notice.at
    expected = expected_at(session, home_id, at)[:MAX_EXPECTED]
    people = [
        {
            "name": e.name or "a carer",
            "agency": e.agency,
            "start": f"{e.start:%H:%M}",
            "end": f"{e.end:%H:%M}",
            "checked_in": e.checked_in_at is not None,
        }
        for e in expected
    ]
    if people:
        names = ", ".join(
            f"{p['name']}"
            + (f" ({p['agency']})" if p["agency"] else "")
            + (" - checked in" if p["checked_in"] else "")
            for p in people
        )
        body = f"Expected now: {names}"
    else:
        body = "Nobody is expected now"
    data = {
        "home": home_id,
        "device": notice.device_id,
        "event_id": notice.data.get("event_id"),
        "snapshot_id": notice.data.get("snapshot_id"),
        "at": at.isoformat(),
        "expected": people,
    }
    return f"Someone is at the door - {home.name}", body, data
