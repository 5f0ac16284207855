"""The Web Push subscription API: one's own subscriptions only, real keys, https endpoints;
a subscription made through the API receives a ring, checked by the real push endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.bus import Notice
from hub.notify import VAPID_KEY_FILE, NotifyWorker, VapidKeys, WebPushChannel
from hub.notify.store import subscriptions_of
from hub.notify.vapid import b64url
from hub.storage.models_registry import Role
from mobile_api.routes.push import PushConfig
from tests.hub.test_notify_webpush import SUBJECT, PushEndpoint
from tests.web.conftest import Web, log_in, make_person


def browser_subscription(endpoint: str) -> dict[str, Any]:
    """What ``PushSubscription.toJSON()`` gives, with a fresh key pair."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {
            "p256dh": b64url(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)),
            "auth": b64url(os.urandom(16)),
        },
    }


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> VapidKeys:
    return VapidKeys.load_or_create(tmp_path_factory.mktemp("hub") / "keys" / VAPID_KEY_FILE)


@pytest.fixture
def push(web: Web, keys: VapidKeys) -> Iterator[PushConfig]:
    config = PushConfig(keys.application_server_key, allow_loopback_http=True)
    web.app.state.push = config
    yield config
    del web.app.state.push


@pytest.fixture(scope="module")
def people(web: Web) -> dict[str, str]:
    return {
        "pusha": make_person(web, "pusha", Role.FAMILY_MEMBER, web.rig.home),
        "pushb": make_person(web, "pushb", Role.FAMILY_MEMBER, web.rig.home),
    }


def _mine(web: Web, person: str) -> list[str]:
    with web.rig.db.read_session() as s:
        return [row.endpoint for row in subscriptions_of(s, person)]


def test_without_push_set_up_the_routes_say_so(web: Web, people: dict[str, str]) -> None:
    client, csrf = log_in(web, "pusha")
    r = client.get("/api/push/vapid-key")
    assert r.status_code == 404
    assert "doorstep serve" in r.json()["detail"]
    sub = browser_subscription("https://push.example.invalid/a")
    assert client.post("/api/push/subscriptions", json=sub, headers=csrf).status_code == 404


def test_subscribe_and_unsubscribe_only_ones_own(
    web: Web, people: dict[str, str], push: PushConfig
) -> None:
    a, a_csrf = log_in(web, "pusha")
    b, b_csrf = log_in(web, "pushb")
    assert a.get("/api/push/vapid-key").json() == {
        "application_server_key": push.application_server_key
    }
    url = "https://push.example.invalid/phone-a"
    r = a.post("/api/push/subscriptions", json=browser_subscription(url), headers=a_csrf)
    assert r.status_code == 201, r.text
    assert url in _mine(web, people["pusha"])
    assert a.post("/api/push/subscriptions", json=browser_subscription(url)).status_code == 403
    # Someone else cannot remove it (and learns nothing: the answer is the same).
    r = b.delete("/api/push/subscriptions", params={"endpoint": url}, headers=b_csrf)
    assert r.status_code == 204
    assert url in _mine(web, people["pusha"])
    r = a.delete("/api/push/subscriptions", params={"endpoint": url}, headers=a_csrf)
    assert r.status_code == 204
    assert url not in _mine(web, people["pusha"])


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"endpoint": "http://push.example.invalid/x"}, "https"),
        ({"endpoint": "ftp://push.example.invalid/x"}, "https"),
        ({"endpoint": "https://[::1/x"}, "https"),
        ({"endpoint": "http://localhost.example/x"}, "https"),
        ({"keys": {"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"a" * 16)}}, "P-256"),
        ({"keys": {"p256dh": "not base64!", "auth": b64url(b"a" * 16)}}, "base64url"),
        ({"keys": {"p256dh": None, "auth": b64url(b"short")}}, "16 bytes"),
        ({"colour": "red"}, "extra"),
    ],
)
def test_bad_subscriptions_are_refused(
    web: Web, people: dict[str, str], push: PushConfig, change: dict[str, Any], why: str
) -> None:
    client, csrf = log_in(web, "pusha")
    sub = browser_subscription("https://push.example.invalid/bad")
    if change.get("keys", {}).get("p256dh", "") is None:
        change = {"keys": {**change["keys"], "p256dh": sub["keys"]["p256dh"]}}
    r = client.post("/api/push/subscriptions", json=sub | change, headers=csrf)
    assert r.status_code == 422, r.text
    assert why in r.text
    assert "https://push.example.invalid/bad" not in _mine(web, people["pusha"])


def test_a_subscription_made_through_the_api_receives_the_ring(
    web: Web, people: dict[str, str], push: PushConfig, keys: VapidKeys
) -> None:
    endpoint = PushEndpoint(keys.public_bytes)
    try:
        browser = endpoint.add("pusha-phone")
        client, csrf = log_in(web, "pusha")
        sub = {
            "endpoint": endpoint.url("pusha-phone"),
            "keys": {"p256dh": browser.p256dh(), "auth": b64url(browser.auth)},
        }
        assert client.post("/api/push/subscriptions", json=sub, headers=csrf).status_code == 201
        rig = web.rig
        channel = WebPushChannel(rig.db, keys, subject=SUBJECT)
        worker = NotifyWorker(rig.db, rig.hub.bus, [channel])
        worker.start()
        try:
            rig.hub.bus.post(Notice("ring", "door-api", {"event_id": "api-ring-1"}, rig.home))
            assert endpoint.wait(lambda rs: len(rs) == 1)
            assert worker.wait_idle(10)
        finally:
            worker.stop()
        (request,) = endpoint.requests
        assert endpoint.problems == []
        assert request.payload is not None
        assert request.payload["url"] == f"/homes/{rig.home}"
        assert request.payload["data"]["event_id"] == "api-ring-1"
    finally:
        endpoint.close()
