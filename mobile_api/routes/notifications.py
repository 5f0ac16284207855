"""Notifications: one's own preferences, "seen" receipts, and failures for admins.

GET  /api/me/notifications   -> {"preferences": {...}, "choices": {kinds, safety_kinds, channels}}
PUT  /api/me/notifications {muted_kinds, off_channels, quiet_start, quiet_end, timezone,
                            rings_in_quiet_hours}                        -> the same as GET
GET  /api/notifications?key=...      -> one of one's own notifications (what a tap opens)
POST /api/notifications/seen {"key"}  -> 204 (404 when the key is not one of one's own)
GET  /api/admin/notifications/failures?limit=100 -> failed / gone deliveries in the homes one
     administers, newest first; the next (older) page's address is in the Link header

The rule preferences follow (safety alerts are never silenced) is in hub.notify.preferences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from hub.audit import AuditAction, append, person_ref
from hub.notify.messages import MESSAGE_KINDS, SAFETY_KINDS
from hub.notify.preferences import CHANNELS, Preferences, load, save
from hub.notify.receipts import mark_seen
from hub.notify.store import failures_in
from hub.storage.models_notify import NotificationRow, RecipientRow
from hub.storage.models_registry import Person

from ..deps import CurrentPerson, HubDep, Now
from .admin import administered
from .paging import PRINTABLE, link_next

router = APIRouter(tags=["notifications"])


class Seen(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=200)


def _answer(prefs: Preferences) -> dict[str, Any]:
    return {
        "preferences": prefs.model_dump(),
        "choices": {
            "kinds": list(MESSAGE_KINDS),
            "safety_kinds": sorted(SAFETY_KINDS),
            "channels": list(CHANNELS),
        },
    }


@router.get("/api/me/notifications")
def my_preferences(person: CurrentPerson, hub: HubDep) -> dict[str, Any]:
    with hub.db.read_session() as s:
        return _answer(load(s, person))


@router.put("/api/me/notifications")
def set_my_preferences(
    body: Preferences, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, Any]:
    # One's own choices only: the person is the session's, never taken from the body.
    with hub.db.session() as s:
        before = load(s, person)
        save(s, person, body, now)
        append(
            s,
            AuditAction.NOTIFY_PREFERENCES_CHANGED,
            actor=person_ref(person),
            at=now,
            subjects=[person_ref(person)],
            details={"before": before.model_dump(), "after": body.model_dump()},
        )
    return _answer(body)


@router.get("/api/notifications")
def one_of_mine(
    person: CurrentPerson, hub: HubDep, key: str = Query(min_length=1, max_length=200)
) -> dict[str, Any]:
    """The notification a tap opened, for the page to show it (a ring: its picture and who
    is expected). Only a recipient may read it; the picture itself stays behind
    /api/snapshots and its own permission."""
    with hub.db.read_session() as s:
        note = s.get(NotificationRow, key)
        if note is None or s.get(RecipientRow, (key, person)) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such notification of yours")
        return {
            "key": note.dedup_key,
            "kind": note.kind,
            "home": note.home_id,
            "device": note.device_id,
            "title": note.title,
            "body": note.body,
            "url": note.url,
            "data": note.data,
            "at": note.created_at.isoformat(),
        }


@router.post("/api/notifications/seen", status_code=204)
def seen(body: Seen, person: CurrentPerson, hub: HubDep, now: Now) -> None:
    with hub.db.session() as s:
        first = mark_seen(s, body.key, person, now)
        if first is None:
            # The same answer for "not yours" and "no such key": nothing leaks.
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such notification of yours")
        if first:
            append(
                s,
                AuditAction.NOTIFICATION_SEEN,
                actor=person_ref(person),
                at=now,
                subjects=[person_ref(person)],
                details={"key": body.key},
            )


@router.get("/api/admin/notifications/failures")
def failures(
    person: CurrentPerson,
    hub: HubDep,
    response: Response,
    limit: int = Query(100, ge=1, le=500),
    before: str | None = Query(
        None, max_length=80, pattern=PRINTABLE, description="cursor from the Link header"
    ),
) -> list[dict[str, Any]]:
    cursor = _cursor(before) if before else None
    with hub.db.read_session() as s:
        homes = administered(s, person)
        if not homes:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only administrators may see this")
        found = failures_in(s, homes, limit + 1, cursor)
        link_next(
            response,
            "/api/admin/notifications/failures",
            found,
            limit,
            {},
            lambda dn: f"{dn[0].updated_at.isoformat()}~{dn[0].id}",
            cursor="before",
        )
        out = []
        for d, n in found[:limit]:
            who = s.get(Person, d.person_id)
            out.append(
                {
                    "id": d.id,
                    "key": d.dedup_key,
                    "kind": n.kind,
                    "home": n.home_id,
                    "person_id": d.person_id,
                    "person": who.display_name if who else None,
                    "channel": d.channel,
                    "status": d.status,
                    "attempts": d.attempts,
                    "error": d.last_error,
                    "at": d.updated_at.isoformat(),
                }
            )
        return out


def _cursor(text: str) -> tuple[datetime, int]:
    """(updated_at, id) of the last failure shown: ties in time are split by id."""
    at, _, ident = text.rpartition("~")
    try:
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not ident.isdigit() or len(ident) > 18:  # a BIGINT
            raise ValueError(text)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"before={text!r} is not a cursor of this list: follow the Link header",
        ) from None
    return when, int(ident)
