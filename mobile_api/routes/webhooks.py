"""Webhook subscriptions of partner agencies, and their dead letters (issue 10).

An admin manages subscriptions of the homes they administer; a subscription to every
home (``home: null``) needs ``administer`` in every home of the hub. The signing
secret is in the answer to the POST (or to a rotation) only. Every change is audited.
URLs into the hub's own network are refused unless the operator allows them
(``DOORSTEP_WEBHOOK_ALLOW_PRIVATE_TARGETS``): an admin of a home cannot lift that.

GET    /api/admin/webhooks                         POST /api/admin/webhooks
       (each with its ``dead_letters`` count and ``last_dead_at``)
GET    /api/admin/webhooks/event-types             (what a subscription may filter on)
DELETE /api/admin/webhooks/{subscription_id}
POST   /api/admin/webhooks/{subscription_id}/rotate-secret
GET    /api/admin/webhooks/dead-letters            POST .../dead-letters/{delivery_id}/retry
       (the newest 200)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.errors import InvalidTransition, InvalidValue, NotFound
from hub.storage.models_registry import Home
from hub.storage.models_webhooks import WebhookSubscription
from hub.webhooks.catalogue import EVENT_TYPES
from hub.webhooks.deliveries import dead_counts, dead_letters, delivery_home, retry_dead
from hub.webhooks.secrets import rotate_secret
from hub.webhooks.subscriptions import (
    add_subscription,
    describe,
    get_subscription,
    list_subscriptions,
    remove_subscription,
)

from ..deps import CurrentPerson, HubDep, Now
from .admin import administered

router = APIRouter(prefix="/api/admin/webhooks", tags=["webhooks"])


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    partner: str = Field(min_length=1, max_length=200, description="who receives it")
    url: str = Field(min_length=8, max_length=2048, description="https:// endpoint")
    event_types: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))
    home: str | None = Field(None, max_length=36, description="only this home; null: all")


class EventTypeOut(BaseModel):
    """One event type a subscription can filter on (hub/webhooks/catalogue.py)."""

    id: str = Field(description="the CloudEvent type, e.g. doorstep.ring")
    description: str = Field(description="what happened, in plain English: a checkbox label")


def _scope(s: Session, person: str) -> tuple[set[str], bool]:
    """(homes ``person`` administers, whether that is every home of the hub)."""
    mine = administered(s, person)
    if not mine:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only administrators may do this: ask your hub's admin"
        )
    every = set(s.scalars(select(Home.id))) <= mine
    return mine, every


def _may(home: str | None, mine: set[str], every: bool) -> bool:
    return every if home is None else home in mine


def _audit(s: Session, person: str, action: AuditAction, now: Any, sub_id: str, **d: Any) -> None:
    subjects = [ref(RefKind.WEBHOOK, sub_id)]
    if d.get("home"):
        subjects.append(ref(RefKind.HOME, d["home"]))
    append(s, action, actor=person_ref(person), at=now, subjects=subjects, details=d)


@router.get("")
def subscriptions(person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        mine, every = _scope(s, person)
        # Counted per subscription: the dead-letters list stops at its newest 200.
        dead = dead_counts(s)
        out = []
        for x in list_subscriptions(s):
            if _may(x.home_id, mine, every):
                n, latest = dead.get(x.id, (0, None))
                at = latest.isoformat() if latest else None
                out.append(describe(x) | {"dead_letters": n, "last_dead_at": at})
        return out


@router.get("/event-types")
def event_types(person: CurrentPerson, hub: HubDep) -> list[EventTypeOut]:
    """The catalogue, in its order: the admin page builds its choices from this."""
    with hub.db.read_session() as s:
        _scope(s, person)
    return [EventTypeOut(id=t, description=e.description) for t, e in EVENT_TYPES.items()]


@router.post("", status_code=201)
def subscribe(
    body: NewSubscription, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, Any]:
    with hub.db.session() as s:
        mine, every = _scope(s, person)
        if not _may(body.home, mine, every):
            what = "every home" if body.home is None else "this home"
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you do not administer {what}")
        try:
            sub, secret = add_subscription(
                s,
                partner=body.partner,
                url=body.url,
                event_types=body.event_types,
                home_id=body.home,
                by=person_ref(person),
                at=now,
                allow_private=hub.webhooks.settings.allow_private_targets,
            )
        except InvalidValue as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        _audit(
            s,
            person,
            AuditAction.WEBHOOK_ADDED,
            now,
            sub.id,
            home=sub.home_id,
            event_types=list(sub.event_types),
            url=sub.url,
        )
        # The only time the secret is shown: the partner needs it to check signatures.
        return describe(sub) | {"secret": secret}


def _visible_subscription(s: Session, person: str, subscription_id: str) -> WebhookSubscription:
    """The subscription, if this person administers its home (else 404: not even its
    existence is told)."""
    mine, every = _scope(s, person)
    try:
        sub = get_subscription(s, subscription_id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such webhook") from None
    if not _may(sub.home_id, mine, every):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such webhook")
    return sub


@router.delete("/{subscription_id}", status_code=204)
def unsubscribe(subscription_id: str, person: CurrentPerson, hub: HubDep, now: Now) -> None:
    with hub.db.session() as s:
        sub = _visible_subscription(s, person, subscription_id)
        home = sub.home_id
        remove_subscription(s, subscription_id)
        _audit(s, person, AuditAction.WEBHOOK_REMOVED, now, subscription_id, home=home)


@router.post("/{subscription_id}/rotate-secret")
def rotate(subscription_id: str, person: CurrentPerson, hub: HubDep, now: Now) -> dict[str, Any]:
    """A new signing secret, shown once; the old one also signs for the grace period
    (``DOORSTEP_WEBHOOK_ROTATION_GRACE_H``, 24 h by default)."""
    grace = timedelta(hours=hub.webhooks.settings.rotation_grace_h)
    with hub.db.session() as s:
        sub = _visible_subscription(s, person, subscription_id)
        secret = rotate_secret(s, sub, now=now, grace=grace)
        until = sub.previous_secret_until.isoformat() if sub.previous_secret_until else None
        _audit(
            s,
            person,
            AuditAction.KEY_CHANGED,
            now,
            sub.id,
            home=sub.home_id,
            change="webhook_secret_rotated",
            old_secret_signs_until=until,
        )
        # Shown once, like at creation: the partner needs it to check signatures.
        return describe(sub) | {"secret": secret}


@router.get("/dead-letters")
def dead(person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        mine, every = _scope(s, person)
        return dead_letters(s, homes=None if every else mine)


@router.post("/dead-letters/{delivery_id}/retry")
def retry(delivery_id: int, person: CurrentPerson, hub: HubDep, now: Now) -> dict[str, Any]:
    with hub.db.session() as s:
        mine, every = _scope(s, person)
        try:
            sub_id, home = delivery_home(s, delivery_id)
        except NotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such delivery") from None
        if not _may(home, mine, every):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such delivery")
        try:
            retry_dead(s, delivery_id, now=now)
        except InvalidTransition as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        _audit(s, person, AuditAction.WEBHOOK_RETRIED, now, sub_id, home=home, delivery=delivery_id)
    hub.webhooks.wake()
    return {"delivery": delivery_id, "status": "pending"}
