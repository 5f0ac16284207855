"""Partner subscriptions: who gets which event types, of which home, at which URL.

The hub makes each subscription's signing secret; it is returned once, at creation
(or rotation), never listed again, and kept sealed with the hub's key
(``hub.webhooks.secrets``). URLs must be ``https://`` to a host on the public
internet: private, loopback and link-local targets, and ``http://``, need the
operator's ``DOORSTEP_WEBHOOK_ALLOW_PRIVATE_TARGETS=true`` (``hub.webhooks.targets``).

    sub, secret = add_subscription(s, partner="Council", url="https://council.example/hook",
                                   event_types=["doorstep.ring"], home_id=None, by=..., at=now)
"""

from __future__ import annotations

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
from .secrets import store_secret
from .signing import new_secret
from .targets import BlockedTarget, Resolver, allowed_addresses, system_resolver


def check_url(url: str, *, allow_private: bool = False, resolve: Resolver = system_resolver) -> str:
    """``url`` if the hub may send to it now; InvalidValue saying why not otherwise.

    A name that does not resolve yet is accepted over https (the partner may not have
    published it); every delivery checks again before it connects.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise InvalidValue(f"webhook URL {url!r} has no host: give https://host/path")
    if parts.username or parts.password:
        raise InvalidValue("put no credentials in a webhook URL: the signature authenticates")
    if parts.scheme not in ("https", "http"):
        raise InvalidValue(f"webhook URL {url!r} must use https://")
    plain = parts.scheme == "http"
    try:
        port = parts.port or (80 if plain else 443)
        allowed_addresses(
            host, port, allow_private=allow_private, plain_http=plain, resolve=resolve
        )
    except BlockedTarget as exc:
        raise InvalidValue(str(exc)) from None
    except (OSError, ValueError):
        if plain:  # cannot show it stays on the hub's network
            raise InvalidValue(
                f"webhook URL {url!r} must use https:// (http:// only to a host on the "
                "hub's own network that resolves now)"
            ) from None
    return url


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
    allow_private: bool = False,
    resolve: Resolver = system_resolver,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (shown to the caller once, kept sealed).

    ``allow_private``: the operator's ``WebhookSettings.allow_private_targets``.
    """
    secret = new_secret()
    sub_id = str(uuid.uuid4())
    sub = WebhookSubscription(
        id=sub_id,
        partner=partner.strip(),
        url=check_url(url, allow_private=allow_private, resolve=resolve),
        event_types=check_types(event_types),
        home_id=home_id,
        secret=store_secret(session, sub_id, secret),
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
        "previous_secret_until": (
            sub.previous_secret_until.isoformat() if sub.previous_secret_until else None
        ),
    }
