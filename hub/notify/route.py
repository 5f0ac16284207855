"""From a notice on the hub's bus to a draft notification: what it says, about which
home and door, and who it is for (before anyone's preferences are applied).

- ``ring``: the home's family (compose.ring_recipients); not a safety alert.
- ``alert`` (device offline, unanswered ring, door left unlocked, carer not arrived):
  family and telecare officers of the home; always a safety alert.
- ``notify``: the explicit recipients another hub part names (messages.NotifyRequest).

    draft = draft_for(s, notice)      # None: this notice notifies nobody
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from ..bus import Notice
from ..storage.devices import find_device
from ..storage.models_notify import NotificationRow
from ..storage.models_registry import Home, Person
from .channel import Message
from .compose import (
    ALERT_MESSAGES,
    alert_recipients,
    alert_text,
    ring_recipients,
    ring_text,
    ring_url,
)
from .messages import MESSAGE_KINDS, NotifyRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Draft:
    key: str
    kind: str
    home_id: str | None
    device_id: str
    safety: bool
    title: str
    body: str
    url: str
    tag: str
    data: dict[str, Any] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()


def draft_for(session: Session, notice: Notice) -> Draft | None:
    if notice.kind == "ring" and notice.home_id is not None:
        return _ring(session, notice.home_id, notice)
    if notice.kind == "alert":
        # The health monitor posts some alerts (an unanswered ring) without the home:
        # the door's home is the one to tell.
        device = find_device(session, notice.device_id) if notice.home_id is None else None
        home = notice.home_id or (device.home_id if device is not None else None)
        return _alert(session, home, notice) if home is not None else None
    if notice.kind == "notify":
        return _notify(session, notice)
    return None


def _ring(session: Session, home: str, notice: Notice) -> Draft:
    event = notice.data.get("event_id") or f"{notice.device_id}@{notice.at.isoformat()}"
    title, body, data = ring_text(session, home, notice)
    return Draft(
        key=f"ring:{event}",
        kind="ring",
        home_id=home,
        device_id=notice.device_id,
        safety=False,
        title=title,
        body=body,
        url=ring_url(home),
        tag=f"ring-{notice.device_id}",
        data=data,
        recipients=tuple(ring_recipients(session, home)),
    )


def _alert(session: Session, home: str, notice: Notice) -> Draft | None:
    if str(notice.data.get("alert")) not in ALERT_MESSAGES:
        return None
    kind, title, body, data = alert_text(session, home, notice)
    data.setdefault("door", _door(session, notice.device_id))
    return Draft(
        key=f"alert:{notice.data.get('alert_id')}",
        kind=kind,
        home_id=home,
        device_id=notice.device_id,
        safety=True,
        title=title,
        body=body,
        url=ring_url(home),
        tag=f"{kind}-{notice.device_id}",
        data=data,
        recipients=tuple(alert_recipients(session, home)),
    )


def _notify(session: Session, notice: Notice) -> Draft | None:
    try:
        req = NotifyRequest.model_validate(notice.data)
    except ValidationError as exc:
        log.warning("a notify notice was not understood: %s", exc.errors()[:3])
        return None
    if req.message_kind not in MESSAGE_KINDS:
        log.warning("a notify notice has an unknown message kind %r", req.message_kind)
        return None
    data: dict[str, Any] = dict(req.extra)
    home = session.get(Home, notice.home_id) if notice.home_id else None
    if home is not None:
        data.setdefault("home", home.name)
        data.setdefault("home_id", home.id)
        data.setdefault("at", f"{notice.at.astimezone(ZoneInfo(home.timezone)):%H:%M}")
    if notice.device_id:
        data.setdefault("device", notice.device_id)
        data.setdefault("door", _door(session, notice.device_id))
    people: list[str] = []
    for person in req.to:  # anyone erased since the notice was made is simply left out
        if person not in people and session.get(Person, person) is not None:
            people.append(person)
    return Draft(
        key=req.key,
        kind=req.message_kind,
        home_id=home.id if home is not None else None,
        device_id=notice.device_id,
        safety=req.is_safety(),
        title=req.title,
        body=req.body,
        url=req.url,
        tag=req.tag,
        data=data,
        recipients=tuple(people),
    )


def _door(session: Session, device_id: str) -> str:
    device = find_device(session, device_id) if device_id else None
    return device.name if device is not None else "the door"


def row_of(draft: Draft, now: datetime) -> NotificationRow:
    return NotificationRow(
        dedup_key=draft.key,
        kind=draft.kind,
        home_id=draft.home_id,
        device_id=draft.device_id,
        safety=draft.safety,
        title=draft.title[:200],
        body=draft.body[:1000],
        url=draft.url[:500],
        tag=draft.tag[:100],
        data=draft.data,
        created_at=now,
    )


def message_of(note: NotificationRow, person: str, target: str) -> Message:
    return Message(
        key=note.dedup_key,
        kind=note.kind,
        person_id=person,
        target=target,
        title=note.title,
        body=note.body,
        url=note.url,
        tag=note.tag,
        data=dict(note.data),
    )
