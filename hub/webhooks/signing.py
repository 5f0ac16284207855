"""Signing webhook requests the Standard Webhooks way (HMAC-SHA256, base64).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the key is the
base64 part of the subscription's ``whsec_...`` secret; the header is
``webhook-signature: v1,<base64 signature>`` (space-separated if several).

    >>> secret = new_secret()
    >>> headers = signed_headers(secret, "ce-1", b"{}", timestamp=1700000000)
    >>> verify(secret, headers, b"{}", now=1700000010)
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

PREFIX = "whsec_"
TOLERANCE_S = 300  # a receiver should refuse timestamps further off than this


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str | Sequence[str], msg_id: str, body: bytes, *, timestamp: int | None = None
) -> dict[str, str]:
    """Headers of one request; several secrets (a rotation's grace) give one signature
    each, space-separated, and a receiver accepts the request if any of them verifies."""
    ts = int(time.time()) if timestamp is None else timestamp
    keys = [secret] if isinstance(secret, str) else list(secret)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(signature(k, msg_id, ts, body) for k in keys),
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> bool:
    """What a receiver does (also used by our tests): recompute and compare."""
    try:
        msg_id = headers["webhook-id"]
        ts = int(headers["webhook-timestamp"])
        given = headers["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > TOLERANCE_S:
        return False
    expected = signature(secret, msg_id, ts, body)
    return any(hmac.compare_digest(expected, g) for g in given)
