"""Web Push end to end: a real push endpoint on a real socket checks each request's VAPID
signature against this deployment's public key and decrypts its aes128gcm payload
(RFC 8291 / 8188) with the browser's own private key; what it decrypts is what we assert.

A ring from a real edge agent through a real broker and hub reaches each family member
once; a failing endpoint (500, 500, then 410 Gone) is retried with backoff, does not hold
up anyone else, and its subscription is dropped.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from hub.bus import Notice, NoticeBus
from hub.notify import VAPID_KEY_FILE, NotifyWorker, VapidKeys, WebPushChannel
from hub.notify.store import deliveries, failed_deliveries, save_subscription, subscriptions_of
from hub.notify.vapid import b64url, b64url_decode
from hub.storage import Database, add_membership, create_home, create_person, events_of
from hub.storage.models_registry import Role
from hub.storage.visits import add_window
from protocol import utcnow
from tests.hubrt.rig import HubRig

SUBJECT = "mailto:ops@doorstep.example"


@dataclass
class Browser:
    """A browser's side of a push subscription: its ECDH key pair and auth secret."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def p256dh(self) -> str:
        return b64url(
            self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        )


@dataclass
class Request:
    browser: str
    status: int
    at: float  # monotonic, when the request arrived
    payload: dict[str, Any] | None
    headers: dict[str, str]


class PushEndpoint:
    """A push service on 127.0.0.1: verifies VAPID, decrypts, answers as scripted."""

    def __init__(self, vapid_public: bytes) -> None:
        self.vapid_public = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), vapid_public
        )
        self.vapid_k = b64url(vapid_public)
        self.browsers: dict[str, Browser] = {}
        self.script: dict[str, list[int]] = {}  # answers in turn; the last one repeats
        self.hold: dict[str, threading.Event] = {}  # the first request waits for this
        self.requests: list[Request] = []
        self.problems: list[str] = []
        self.arrived = threading.Condition()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                # HTTP header names are case-insensitive: compare them lower-cased.
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = endpoint.handle(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, name: str, statuses: tuple[int, ...] = (201,)) -> Browser:
        browser = Browser(name)
        self.browsers[name] = browser
        self.script[name] = list(statuses)
        return browser

    def url(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def check_vapid(self, headers: dict[str, str]) -> None:
        scheme, _, params = headers.get("authorization", "").partition(" ")
        assert scheme == "vapid", f"authorization scheme {scheme!r}"
        parts = dict(p.split("=", 1) for p in params.split(","))
        assert parts["k"] == self.vapid_k, "VAPID key is not this deployment's"
        head, claims, sig = parts["t"].split(".")
        raw = b64url_decode(sig)
        der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
        self.vapid_public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        assert json.loads(b64url_decode(head))["alg"] == "ES256"
        c = json.loads(b64url_decode(claims))
        assert c["aud"] == self.origin, c
        assert c["sub"] == SUBJECT, c
        assert time.time() < c["exp"] <= time.time() + 24 * 3600, c

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        name = path.rsplit("/", 1)[-1]
        arrived = time.monotonic()
        payload = None
        try:
            self.check_vapid(headers)
            assert headers.get("content-encoding") == "aes128gcm", headers
            b = self.browsers[name]
            plain = http_ece.decrypt(
                body, private_key=b.key, auth_secret=b.auth, version="aes128gcm"
            )
            payload = json.loads(plain)
            status = (
                self.script[name].pop(0) if len(self.script[name]) > 1 else self.script[name][0]
            )
        except (AssertionError, InvalidSignature, KeyError, ValueError) as exc:
            self.problems.append(f"{name}: {type(exc).__name__}: {exc}")
            status = 400
        hold = self.hold.pop(name, None)
        if hold is not None:
            hold.wait(10)
        with self.arrived:
            self.requests.append(Request(name, status, arrived, payload, headers))
            self.arrived.notify_all()
        return status

    def wait(self, predicate: Any, timeout: float = 10) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: predicate(self.requests), timeout)

    def to(self, name: str) -> list[Request]:
        return [r for r in self.requests if r.browser == name]

    def close(self) -> None:
        for event in self.hold.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def keys(tmp_path: Path) -> VapidKeys:
    return VapidKeys.load_or_create(tmp_path / "keys" / VAPID_KEY_FILE)


@pytest.fixture
def endpoint(keys: VapidKeys) -> Iterator[PushEndpoint]:
    e = PushEndpoint(keys.public_bytes)
    yield e
    e.close()


def subscribe(
    db: Database, endpoint: PushEndpoint, person: str, name: str, statuses: tuple[int, ...] = (201,)
) -> str:
    b = endpoint.add(name, statuses)
    with db.session() as s:
        return save_subscription(
            s,
            person_id=person,
            endpoint=endpoint.url(name),
            p256dh=b.p256dh(),
            auth=b64url(b.auth),
            at=utcnow(),
        ).id


def test_vapid_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / VAPID_KEY_FILE
    first = VapidKeys.load_or_create(path)
    again = VapidKeys.load_or_create(path)
    assert first.application_server_key == again.application_server_key
    assert len(b64url_decode(first.application_server_key)) == 65
    assert path.stat().st_mode & 0o077 == 0
    assert isinstance(load_pem_private_key(path.read_bytes(), None), ec.EllipticCurvePrivateKey)
    assert VapidKeys.load_or_create(tmp_path / "other.key").public_bytes != first.public_bytes


@pytest.fixture
def rig(database: Database, plain_broker: Any) -> Iterator[HubRig]:
    r = HubRig(database, plain_broker).start()
    yield r
    r.stop()


def test_a_ring_pushes_once_to_each_family_member(
    rig: HubRig, keys: VapidKeys, endpoint: PushEndpoint
) -> None:
    db, home, now = rig.db, rig.home, utcnow()
    with db.session() as s:
        owner = create_person(s, display_name="Ben", at=now).id
        add_membership(s, person_id=owner, home_id=home, role=Role.FAMILY_OWNER, at=now)
        carer = create_person(s, display_name="Carol", at=now).id
        add_membership(s, person_id=carer, home_id=home, role=Role.CARER, at=now)
        local = (now - timedelta(hours=1)).astimezone(ZoneInfo("Europe/London"))
        add_window(
            s,
            home_id=home,
            carer_id=carer,
            agency="Kind Care",
            weekday=None,
            on_date=local.date(),
            start=local.time(),
            end=(local + timedelta(hours=3)).time(),
            tolerance_min=0,
            created_by=owner,
            at=now,
        )
    subscribe(db, endpoint, rig.family, "anna")
    subscribe(db, endpoint, owner, "ben")
    subscribe(db, endpoint, rig.telecare, "officer")  # not family: hears nothing of rings
    subscribe(db, endpoint, rig.stranger, "stranger")  # another home's family
    subscribe(db, endpoint, carer, "carol")
    worker = NotifyWorker(db, rig.hub.bus, [WebPushChannel(db, keys, subject=SUBJECT)])
    worker.start()
    try:
        device = rig.add_device()
        _agent, board = rig.agent(device)
        board.ring()  # nobody has the page open: no stream, only the push
        assert endpoint.wait(lambda rs: len(rs) >= 2, timeout=10)
        assert worker.wait_idle(10)
        with db.read_session() as s:
            (ring,) = [e for e in events_of(s, device) if e.kind == "ring"]
        # The same notice again (a redelivery, a second hub) must not notify anyone twice.
        rig.hub.bus.post(Notice("ring", device, {"event_id": ring.event_id}, home))
        time.sleep(0.3)  # give a wrong second push the chance to arrive
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    assert endpoint.problems == []
    assert sorted(r.browser for r in endpoint.requests) == ["anna", "ben"]
    for r in endpoint.requests:
        assert r.status == 201
        assert r.headers["urgency"] == "high"
        assert r.payload == {
            "v": 1,
            "key": f"ring:{ring.event_id}",
            "kind": "ring",
            "title": "Someone is at the door - Margaret's home",
            "body": "Expected now: Carol (Kind Care)",
            "url": f"/homes/{home}",
            "tag": f"ring-{device}",
            "data": {
                "home": home,
                "device": device,
                "event_id": ring.event_id,
                "snapshot_id": r.payload["data"]["snapshot_id"],
                "at": r.payload["data"]["at"],
                "expected": [
                    {
                        "name": "Carol",
                        "agency": "Kind Care",
                        "start": f"{local:%H:%M}",
                        "end": f"{local + timedelta(hours=3):%H:%M}",
                        "checked_in": False,
                    }
                ],
            },
        }
        assert r.payload["data"]["snapshot_id"] is not None
    with db.read_session() as s:
        rows = deliveries(s, f"ring:{ring.event_id}")
    assert sorted((row.person_id, row.status, row.attempts) for row in rows) == sorted(
        [(rig.family, "sent", 1), (owner, "sent", 1)]
    )


def _family_home(db: Database, names: list[str]) -> tuple[str, dict[str, str]]:
    now = utcnow()
    with db.session() as s:
        home = create_home(s, name="Flat 3", timezone="UTC", at=now).id
        people = {}
        for n in names:
            people[n] = create_person(s, display_name=n, at=now).id
            add_membership(s, person_id=people[n], home_id=home, role=Role.FAMILY_MEMBER, at=now)
    return home, people


def test_a_failing_endpoint_is_retried_with_backoff_then_dropped_and_delays_nobody(
    database: Database, keys: VapidKeys, endpoint: PushEndpoint
) -> None:
    home, people = _family_home(database, ["anna", "ben", "dora"])
    subscribe(database, endpoint, people["anna"], "anna")
    subscribe(database, endpoint, people["ben"], "ben-old-phone", (500, 500, 410))
    subscribe(database, endpoint, people["ben"], "ben-new-phone")
    subscribe(database, endpoint, people["dora"], "dora")
    # The dying phone's first answer hangs until everyone else has had their push.
    release = endpoint.hold["ben-old-phone"] = threading.Event()
    bus = NoticeBus()
    delays = (0.3, 0.6, 30.0)
    channel = WebPushChannel(database, keys, subject=SUBJECT, timeout_s=15)
    worker = NotifyWorker(database, bus, [channel], retry_delays_s=delays, senders=4)
    worker.start()
    try:
        bus.post(Notice("ring", "door-flat3", {"event_id": "e-1", "snapshot_id": None}, home))
        others = {"anna", "ben-new-phone", "dora"}
        assert endpoint.wait(lambda rs: others <= {r.browser for r in rs}, timeout=10), (
            "a hanging endpoint held up the other deliveries"
        )
        assert endpoint.to("ben-old-phone") == []  # still hanging meanwhile
        release.set()
        assert endpoint.wait(lambda rs: len([r for r in rs if r.browser == "ben-old-phone"]) == 3)
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    assert endpoint.problems == []
    old = endpoint.to("ben-old-phone")
    assert [r.status for r in old] == [500, 500, 410]
    # Backoff: each retry waited at least its delay after the answer before it.
    first_answered = max(r.at for r in endpoint.requests if r.browser in others)
    assert old[1].at - old[0].at >= delays[0]
    assert old[2].at - old[1].at >= delays[1]
    assert first_answered <= old[0].at + 10
    with database.read_session() as s:
        assert [sub.endpoint for sub in subscriptions_of(s, people["ben"])] == [
            endpoint.url("ben-new-phone")
        ]
        (gone,) = failed_deliveries(s)
        rows = {(r.person_id, r.status) for r in deliveries(s, "ring:e-1")}
    assert (gone.person_id, gone.status, gone.attempts) == (people["ben"], "gone", 3)
    assert "410" in (gone.last_error or "")
    assert rows == {
        (people["anna"], "sent"),
        (people["ben"], "sent"),
        (people["ben"], "gone"),
        (people["dora"], "sent"),
    }


def test_a_channel_that_keeps_failing_gives_up_and_is_recorded(
    database: Database, keys: VapidKeys, endpoint: PushEndpoint
) -> None:
    home, people = _family_home(database, ["anna"])
    subscribe(database, endpoint, people["anna"], "anna", (503,))
    bus = NoticeBus()
    worker = NotifyWorker(
        database, bus, [WebPushChannel(database, keys, subject=SUBJECT)], retry_delays_s=(0.05, 0.1)
    )
    worker.start()
    try:
        bus.post(Notice("ring", "door-x", {"event_id": "e-2"}, home))
        assert endpoint.wait(lambda rs: len(rs) == 3)
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    with database.read_session() as s:
        (failed,) = failed_deliveries(s)
        assert len(subscriptions_of(s, people["anna"])) == 1  # a 5xx is no reason to forget it
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert "503" in (failed.last_error or "")
