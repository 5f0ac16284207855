"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm encryption (RFC 8291), via pywebpush.

The payload is the JSON the service worker shows: title, body, a tag (a later ring at
the same door replaces the earlier notification) and the URL of the ring screen.
Unlocking never happens from the notification: the page asks for a second factor.

    keys = VapidKeys.load_or_create(path)
    channel = WebPushChannel(db, keys, subject="mailto:ops@council.example")
    receipt = channel.send(message)        # Receipt(Outcome.SENT) on 201
"""

from __future__ import annotations

import json
from typing import Any

import requests
from py_vapid import Vapid
from pydantic import BaseModel, ConfigDict
from pywebpush import WebPushException, webpush
from sqlalchemy.orm import Session

from ..retry_after import retry_after
from ..storage.database import Database
from .channel import Message, NotifyConfigError, Outcome, Receipt
from .messages import MESSAGE_KINDS
from .store import delete_subscription, get_subscription, subscriptions_of
from .vapid import VapidKeys

PUSH_PAYLOAD_VERSION = 1


class PushPayload(BaseModel):
    """What the service worker receives (decrypted) for one notification."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: int = PUSH_PAYLOAD_VERSION
    key: str  # the notification's key: the service worker reports it "seen" on a click
    kind: str
    title: str
    body: str
    url: str
    tag: str
    data: dict[str, Any]


def payload_of(message: Message) -> PushPayload:
    return PushPayload(
        key=message.key,
        kind=message.kind,
        title=message.title,
        body=message.body,
        url=message.url,
        tag=message.tag,
        data=dict(message.data),
    )


class WebPushChannel:
    name = "webpush"
    kinds = frozenset(MESSAGE_KINDS)  # every kind; SMS / email carry only the alerts

    def __init__(
        self,
        db: Database,
        keys: VapidKeys,
        *,
        subject: str,
        ttl_s: int = 300,
        timeout_s: float = 5.0,
    ) -> None:
        if not subject.startswith(("mailto:", "https://")):
            raise NotifyConfigError(
                f"VAPID subject {subject!r}: give a mailto: address or https: URL where the "
                "push service can reach this deployment's operator"
            )
        self._db = db
        self._vapid = Vapid(private_key=keys.private_key)
        self._subject = subject
        self._ttl_s = ttl_s  # a ring older than this is no longer news
        self._timeout_s = timeout_s

    def targets(self, session: Session, person_id: str) -> list[str]:
        return [row.id for row in subscriptions_of(session, person_id)]

    def forget(self, session: Session, target: str) -> None:
        delete_subscription(session, subscription_id=target)

    def send(self, message: Message) -> Receipt:
        with self._db.read_session() as s:
            row = get_subscription(s, message.target)
            if row is None:
                return Receipt(Outcome.GONE, "subscription was removed")
            info = {"endpoint": row.endpoint, "keys": {"p256dh": row.p256dh, "auth": row.auth}}
        body = json.dumps(payload_of(message).model_dump(), separators=(",", ":"))
        try:
            response = webpush(
                info,
                data=body,
                vapid_private_key=self._vapid,
                # a fresh dict each time: pywebpush writes aud and exp into it
                vapid_claims={"sub": self._subject},
                ttl=self._ttl_s,
                headers={"Urgency": "high", "Topic": _topic(message.tag)},
                timeout=self._timeout_s,
            )
        except WebPushException as exc:
            return _receipt_for(exc.response, str(exc))
        except (requests.RequestException, OSError) as exc:
            return Receipt(Outcome.RETRY, f"push service unreachable: {exc}")
        return _receipt_for(response, "")


def _topic(tag: str) -> str:
    # RFC 8030 Topic: up to 32 base64url characters; the service keeps only the newest.
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in tag)[:32]


def _receipt_for(response: Any, error: str) -> Receipt:
    if response is None:
        return Receipt(Outcome.RETRY, error or "no response from the push service")
    code = int(response.status_code)
    if 200 <= code < 300:
        return Receipt(Outcome.SENT, f"HTTP {code}")
    detail = f"HTTP {code}: {(response.text or '')[:200]}"
    if code in (404, 410):
        return Receipt(Outcome.GONE, detail)
    if code == 429 or code >= 500:
        return Receipt(
            Outcome.RETRY,
            detail,
            retry_after(response.headers.get("Retry-After") if response.headers else None),
        )
    return Receipt(Outcome.FAILED, detail)
