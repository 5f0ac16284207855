"""Reading and changing which doors are opted in to Home Assistant.

link = set_link(s, "door-1a2b3c", person_id=pid, share_snapshots=False, at=now)
find_link(s, "door-1a2b3c")          # -> HomeAssistantLink | None
remove_link(s, "door-1a2b3c")        # -> True if it was opted in
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..storage.models_homeassistant import HomeAssistantLink


def find_link(session: Session, device_id: str) -> HomeAssistantLink | None:
    return session.get(HomeAssistantLink, device_id, populate_existing=True)


def linked_devices(session: Session) -> list[str]:
    stmt = select(HomeAssistantLink.device_id).order_by(HomeAssistantLink.device_id)
    return list(session.scalars(stmt))


def any_linked(session: Session) -> bool:
    return session.execute(select(HomeAssistantLink.device_id).limit(1)).first() is not None


def set_link(
    session: Session,
    device_id: str,
    *,
    person_id: str | None,
    share_snapshots: bool,
    at: datetime,
) -> HomeAssistantLink:
    """Opt the door in, or change its settings if it is already."""
    link = find_link(session, device_id)
    if link is None:
        link = HomeAssistantLink(device_id=device_id, created_at=at)
        session.add(link)
    link.person_id = person_id
    link.share_snapshots = share_snapshots
    link.updated_at = at
    session.flush()
    return link


def remove_link(session: Session, device_id: str) -> bool:
    link = find_link(session, device_id)
    if link is None:
        return False
    session.delete(link)
    session.flush()
    return True
