"""Partner subscriptions: who gets which event types, of which home, at which URL.

The hub makes each subscription's signing secret; it is returned once, at creation,
and never listed again. URLs must be ``https://``, except ``http://`` to a loopback
host (127.0.0.0/8, ::1, localhost), which never leaves the machine (tests, a local
relay).

    sub, secret = add_subscription(s, partner="Council", url="https://council.example/hook",
                                   event_types=["doorstep.ring"], home_id=None, by=..., at=now)
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidValue, NotFound
from ..storage.models_webhooks import WebhookSubscription
from .catalogue import EVENT_TYPES
from .signing import new_secret


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise InvalidValue(f"webhook URL {url!r} has no host: give https://host/path")
    if parts.username or parts.password:
        raise InvalidValue("put no credentials in a webhook URL: the signature authenticates")
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(host)):
        return url
    raise InvalidValue(
        f"webhook URL {url!r} must use https:// (http:// only to a loopback address)"
    )


def check_types(types: Sequence[str]) -> list[str]:
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown or not types:
        known = ", ".join(EVENT_TYPES)
        raise InvalidValue(f"event types {unknown or '[]'} unknown or empty: choose from {known}")
    return sorted(set(types))


def add_subscription(
    session: Session,
    *,
    partner: str,
    url: str,
    event_types: Sequence[str],
    home_id: str | None,
    by: str,
    at: datetime,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (shown to the caller once)."""
    secret = new_secret()
    sub = WebhookSubscription(
        id=str(uuid.uuid4()),
        partner=partner.strip(),
        url=check_url(url),
        event_types=check_types(event_types),
        home_id=home_id,
        secret=secret,
        created_at=at,
        created_by=by,
    )
    session.add(sub)
    session.flush()
    return sub, secret


def get_subscription(session: Session, subscription_id: str) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"webhook subscription {subscription_id!r} does not exist")
    return sub


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    stmt = select(WebhookSubscription).order_by(
        WebhookSubscription.created_at, WebhookSubscription.id
    )
    return list(session.scalars(stmt))


def remove_subscription(session: Session, subscription_id: str) -> WebhookSubscription:
    """Delete it with its deliveries (pending and dead ones too)."""
    sub = get_subscription(session, subscription_id)
    session.delete(sub)
    session.flush()
    return sub


def describe(sub: WebhookSubscription) -> dict[str, Any]:
    """A subscription as shown to admins: never the secret."""
    return {
        "id": sub.id,
        "partner": sub.partner,
        "url": sub.url,
        "event_types": list(sub.event_types),
        "home": sub.home_id,
        "created_at": sub.created_at.isoformat(),
    }
