"""Web Push subscriptions of the logged-in person (the browser's PushSubscription JSON).

GET    /api/push/vapid-key                      -> {"application_server_key": "<base64url>"}
POST   /api/push/subscriptions {endpoint, keys: {p256dh, auth}} -> 201 {"subscription_id"}
DELETE /api/push/subscriptions?endpoint=...     -> 204 (only one's own; absent is fine)

Push is set up by whoever serves the app (``doorstep serve``) as ``app.state.push``;
without it these answer 404. Endpoints must be https: the hub POSTs to them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.notify.store import delete_subscription, save_subscription
from hub.notify.vapid import b64url_decode

from ..deps import CurrentPerson, HubDep, Now

router = APIRouter(prefix="/api/push", tags=["push"])


@dataclass(frozen=True)
class PushConfig:
    application_server_key: str  # the deployment's VAPID public key, base64url
    # Tests run a push endpoint on plain http://127.0.0.1; a deployment never should.
    allow_loopback_http: bool = False


def get_push(request: Request) -> PushConfig:
    push = getattr(request.app.state, "push", None)
    if push is None:
        # Not a server error: this deployment simply has no push (404, like a missing key).
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "push notifications are not set up on this hub: start it with 'doorstep serve', "
            "which makes the VAPID keys",
        )
    return push  # type: ignore[no-any-return]


PushDep = Annotated[PushConfig, Depends(get_push)]


def _b64(value: str, length: int, what: str) -> str:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raise ValueError(f"{what} is not base64url") from None
    if len(raw) != length:
        raise ValueError(f"{what} must be {length} bytes, got {len(raw)}")
    return value


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p256dh: str = Field(max_length=200, description="the browser's P-256 public key")
    auth: str = Field(max_length=100, description="the 16-byte auth secret")

    @field_validator("p256dh")
    @classmethod
    def _point(cls, v: str) -> str:
        raw = b64url_decode(_b64(v, 65, "p256dh"))
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise ValueError("p256dh is not a point on P-256") from None
        return v

    @field_validator("auth")
    @classmethod
    def _auth(cls, v: str) -> str:
        return _b64(v, 16, "auth")


class NewSubscription(BaseModel):
    """``PushSubscription.toJSON()`` as a browser gives it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    endpoint: str = Field(min_length=8, max_length=2048)
    expiration_time: int | None = Field(None, alias="expirationTime")
    keys: SubscriptionKeys


def _check_endpoint(url: str, push: PushConfig) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme == "https" and host:
            return
        loopback = bool(host) and ipaddress.ip_address(host).is_loopback
        if push.allow_loopback_http and parts.scheme == "http" and loopback:
            return
    except ValueError:  # not a URL at all (e.g. a bad IPv6 literal), or not an IP address
        pass
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        "endpoint must be an https URL of a push service (what pushManager.subscribe gave)",
    )


@router.get("/vapid-key")
def vapid_key(person: CurrentPerson, push: PushDep) -> dict[str, str]:
    return {"application_server_key": push.application_server_key}


@router.post("/subscriptions", status_code=201)
def subscribe(
    body: NewSubscription, person: CurrentPerson, hub: HubDep, push: PushDep, now: Now
) -> dict[str, Any]:
    _check_endpoint(body.endpoint, push)
    with hub.db.session() as s:
        row = save_subscription(
            s,
            person_id=person,
            endpoint=body.endpoint,
            p256dh=body.keys.p256dh,
            auth=body.keys.auth,
            at=now,
        )
        return {"subscription_id": row.id}


@router.delete("/subscriptions", status_code=204)
def unsubscribe(
    person: CurrentPerson,
    hub: HubDep,
    endpoint: Annotated[str, Query(min_length=1, max_length=2048)],
) -> None:
    with hub.db.session() as s:
        delete_subscription(s, person_id=person, endpoint=endpoint)
