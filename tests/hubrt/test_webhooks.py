"""Webhooks from a running hub (real broker, real database) to a real local HTTP
receiver: signed CloudEvents filtered by type and home, retries on 500 and timeouts,
Retry-After honoured, dead letters and their retry, and a hub killed mid-delivery
losing nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from hub.storage.models_webhooks import WebhookDelivery
from hub.webhooks.deliveries import counts, dead_letters, retry_dead
from hub.webhooks.settings import WebhookSettings
from hub.webhooks.subscriptions import add_subscription
from hub.webhooks.worker import WebhookWorker
from protocol import encode, new_device_id, utcnow
from protocol.device import LockState
from protocol.events import LockCause, LockChanged
from protocol.examples import EXAMPLE_BOOT
from protocol.mqtt import LinkSettings, MqttLink
from protocol.signing import private_key_pem
from tests.fixtures.database import add_device, ring
from tests.hubrt.rig import HubRig

ROOT = Path(__file__).resolve().parents[2]

# -- a partner's receiver ------------------------------------------------------------


@dataclass
class Got:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # the status we sent back (None: still stalling)

    @property
    def ce(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


# (the request, how many came before it) -> (status, extra headers, seconds to stall first)
Plan = Callable[[Got, int], tuple[int, dict[str, str], float]]


class Receiver:
    """A partner's endpoint on a free loopback port, answering as ``plan`` says."""

    def __init__(self) -> None:
        self.got: list[Got] = []
        self.plan: Plan = lambda _got, _n: (200, {}, 0.0)
        self.released = threading.Event()  # ends every stall at once
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                got = Got(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver._cond:
                    n = len(receiver.got)
                    receiver.got.append(got)
                    receiver._cond.notify_all()
                code, headers, stall = receiver.plan(got, n)
                if stall:
                    receiver.released.wait(stall)
                try:
                    self.send_response(code)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    return  # the hub gave up (timeout) or died meanwhile
                with receiver._cond:
                    got.answered = code
                    receiver._cond.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, predicate: Callable[[list[Got]], bool], timeout: float = 20) -> list[Got]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.got):
                left = deadline - time.monotonic()
                assert left > 0, f"receiver waited in vain; got {[g.path for g in self.got]}"
                self._cond.wait(left)
            return list(self.got)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def hmac_ok(secret: str, got: Got) -> bool:
    """What a partner does (docs/webhooks.md), with nothing of ours."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.removeprefix("v1,") for s in got.headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, g) for g in given)


def delivered_ids(got: list[Got], path: str = "/hook") -> set[str]:
    return {g.headers["webhook-id"] for g in got if g.path == path and g.answered == 200}


# -- an in-process hub ------------------------------------------------------------------


FAST = {
    # The receiver listens on 127.0.0.1: the operator's explicit opt-in, as on a hub
    # that relays webhooks through its own network (refused by default).
    "allow_private_targets": True,
    "poll_s": 0.05,
    "backoff_base_s": 0.05,
    "backoff_max_s": 0.2,
    "timeout_s": 0.5,
    "source": "urn:doorstep:test-hub",
}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _rig(database, broker, **settings: Any) -> HubRig:
    rig = HubRig(database, broker)
    options = FAST | settings
    rig.hub.webhooks = WebhookWorker(
        database, WebhookSettings(**options), bus=rig.hub.bus, clock=rig.clock
    )
    return rig.start()


@pytest.fixture
def make_rig(database, plain_broker):
    rigs: list[HubRig] = []

    def make(**settings: Any) -> HubRig:
        rigs.append(_rig(database, plain_broker, **settings))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.stop()


def subscribe(db, url: str, types: list[str], home: str | None) -> str:
    with db.session() as s:
        _, secret = add_subscription(
            s,
            partner="Council",
            url=url,
            event_types=types,
            home_id=home,
            by="operator:t",
            at=utcnow(),
            allow_private=True,  # the receiver is on 127.0.0.1 (see FAST)
        )
    return secret


def _deliveries(db) -> list[WebhookDelivery]:
    with db.read_session() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_signed_cloudevents_reach_partners_filtered_by_type_and_home(make_rig, receiver):
    rig = make_rig()
    device = rig.add_device()
    rings = subscribe(rig.db, receiver.url("/rings"), ["doorstep.ring"], rig.home)
    alerts = subscribe(rig.db, receiver.url("/alerts"), ["doorstep.alert.raised"], None)
    subscribe(rig.db, receiver.url("/elsewhere"), ["doorstep.ring"], rig.other_home)
    link = rig.device_link(device, will=False)
    sent = [ring(device, seq) for seq in (1, 2, 3)]
    for event in sent:
        link.publish(encode(event))
    jam = LockChanged(
        device=device,
        id="00000000-0000-4000-8000-00000000000a",
        seq=4,
        boot_id=EXAMPLE_BOOT,
        at=utcnow(),
        monotonic_ms=9,
        state=LockState.JAMMED,
        cause=LockCause.RELOCK_TIMER,
    )
    link.publish(encode(jam))  # relock failed: an alert is raised
    # Other alerts (e.g. the health monitor's) may come too: wait for the relock one.
    got = receiver.wait(
        lambda g: (
            len(delivered_ids(g, "/rings")) == 3
            and any(x.path == "/alerts" and x.ce["data"].get("kind") == "relock_failed" for x in g)
        )
    )
    assert delivered_ids(got, "/rings") == {e.id for e in sent}
    for g in got:
        assert g.headers["content-type"] == "application/cloudevents+json"
        assert hmac_ok(rings if g.path == "/rings" else alerts, g), g.headers
        assert not hmac_ok(alerts if g.path == "/rings" else rings, g)
        ce = g.ce
        assert ce["specversion"] == "1.0"
        assert ce["source"] == "urn:doorstep:test-hub"
        assert ce["id"] == g.headers["webhook-id"]
        assert ce["datacontenttype"] == "application/json"
        assert {"jpeg", "snapshot_id", "name"}.isdisjoint(ce["data"]), "ids and kinds only"
    raised = [g.ce for g in got if g.path == "/alerts"]
    (alert,) = [a for a in raised if a["data"]["kind"] == "relock_failed"]
    assert {a["type"] for a in raised} == {"doorstep.alert.raised"}, raised
    assert alert["type"] == "doorstep.alert.raised"
    assert alert["data"]["kind"] == "relock_failed"
    assert alert["data"]["home"] == rig.home
    first = next(g.ce for g in got if g.path == "/rings" and g.ce["id"] == sent[0].id)
    assert first["type"] == "doorstep.ring"
    assert first["subject"] == f"devices/{device}"
    assert first["data"]["seq"] == 1
    # The other home's partner gets nothing: it was never even queued for it.
    assert rig.wait_until(
        lambda: (
            counts_of(rig)
            == {"delivered": len([g for g in receiver.got if g.path in ("/rings", "/alerts")])}
        )
    )
    assert [g for g in receiver.got if g.path == "/elsewhere"] == []


def test_a_real_door_rings_and_is_unlocked_remotely(make_rig, receiver):
    rig = make_rig()
    device = rig.add_device()
    secret = subscribe(rig.db, receiver.url(), ["doorstep.ring", "doorstep.door.unlocked"], None)
    _agent, board = rig.agent(device)
    board.ring()
    (ring_ce,) = [g.ce for g in receiver.wait(lambda g: len(delivered_ids(g)) == 1)]
    assert ring_ce["type"] == "doorstep.ring"
    assert ring_ce["data"]["has_snapshot"] is True, "it says there is a picture, not which"
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family, hold_s=0.05)
    got = receiver.wait(lambda g: len(delivered_ids(g)) == 2)
    (unlocked,) = [g for g in got if g.ce["type"] == "doorstep.door.unlocked"]
    assert hmac_ok(secret, unlocked)
    data = unlocked.ce["data"]
    assert (data["remote"], data["command_id"], data["cause"]) == (True, ticket.id, "command")
    assert rig.family not in unlocked.body.decode(), "who unlocked stays in the hub's audit log"


def counts_of(rig: HubRig) -> dict[str, int]:
    with rig.db.read_session() as s:
        return counts(s)


def test_retries_on_500_and_timeouts_with_the_same_id_and_body(make_rig, receiver):
    rig = make_rig(max_attempts=5)
    device = rig.add_device()
    secret = subscribe(rig.db, receiver.url(), ["doorstep.ring"], None)
    answers = [(500, {}, 0.0), (200, {}, 3.0), (200, {}, 0.0)]  # error, too slow, fine
    receiver.plan = lambda _g, n: answers[min(n, 2)]
    event = ring(device, 1)
    rig.device_link(device, will=False).publish(encode(event))
    got = receiver.wait(lambda g: delivered_ids(g) == {event.id} and len(g) >= 3)
    assert len({g.body for g in got}) == 1, "every attempt sends the same bytes"
    assert {g.headers["webhook-id"] for g in got} == {event.id}
    assert all(hmac_ok(secret, g) for g in got)
    assert rig.wait_until(lambda: [d.status for d in _deliveries(rig.db)] == ["delivered"])
    (delivery,) = _deliveries(rig.db)
    assert delivery.attempts == 3


def test_retry_after_is_honoured(make_rig, receiver):
    rig = make_rig()
    device = rig.add_device()
    subscribe(rig.db, receiver.url(), ["doorstep.ring"], None)
    receiver.plan = lambda _g, n: (503, {"Retry-After": "3600"}, 0.0) if n == 0 else (200, {}, 0)
    rig.device_link(device, will=False).publish(encode(ring(device, 1)))
    receiver.wait(lambda g: len(g) == 1 and g[0].answered == 503)

    def failed_once() -> WebhookDelivery | None:
        rows = _deliveries(rig.db)
        return rows[0] if rows and rows[0].attempts == 1 else None

    assert rig.wait_until(lambda: failed_once() is not None)
    delivery = failed_once()
    assert delivery is not None
    assert delivery.next_attempt_at - delivery.updated_at >= timedelta(seconds=3600)
    assert rig.hub.webhooks.run_once() is False, "nothing is due before the hour is up"
    assert len(receiver.got) == 1
    rig.clock.advance_to(3601)
    got = receiver.wait(lambda g: len(g) == 2 and g[1].answered == 200)
    assert got[0].body == got[1].body


def test_dead_letter_after_n_attempts_and_sent_again_on_request(make_rig, receiver):
    rig = make_rig(max_attempts=3)
    device = rig.add_device()
    subscribe(rig.db, receiver.url(), ["doorstep.ring"], None)
    receiver.plan = lambda _g, _n: (500, {}, 0.0)
    event = ring(device, 1)
    rig.device_link(device, will=False).publish(encode(event))
    assert rig.wait_until(lambda: counts_of(rig) == {"dead": 1})
    assert len(receiver.got) == 3, "exactly max_attempts tries, then it stops"
    with rig.db.read_session() as s:
        (letter,) = dead_letters(s, homes=None)
    assert (letter["event_id"], letter["attempts"], letter["last_status"]) == (event.id, 3, 500)
    receiver.plan = lambda _g, _n: (204, {}, 0.0)
    with rig.db.session() as s:
        retry_dead(s, letter["delivery"], now=rig.clock())
    rig.hub.webhooks.wake()
    got = receiver.wait(lambda g: len(g) == 4 and g[3].answered == 204)
    assert got[3].headers["webhook-id"] == event.id
    assert rig.wait_until(lambda: counts_of(rig) == {"delivered": 1})


# -- a hub process killed mid-delivery ---------------------------------------------------


class HubProcess:
    """``doorstep hub run`` in a subprocess, as an operator runs it."""

    def __init__(self, db_url: str, broker: Any, folder: Path) -> None:
        key = folder / "keys" / "hub-signing.key"
        key.parent.mkdir(parents=True)
        key.write_bytes(private_key_pem(Ed25519PrivateKey.generate()))
        self.env = os.environ | {
            "DOORSTEP_HUB_DATA_DIR": str(folder),
            "DOORSTEP_HUB_DATABASE_URL": db_url,
            "DOORSTEP_HUB_MQTT_HOST": broker.host,
            "DOORSTEP_HUB_MQTT_PORT": str(broker.port),
            "DOORSTEP_HUB_MQTT_CLIENT_ID": f"hub-{new_device_id()}",  # same after restart
            "DOORSTEP_WEBHOOK_POLL_S": "0.05",
            "DOORSTEP_WEBHOOK_BACKOFF_BASE_S": "0.1",
            "DOORSTEP_WEBHOOK_BACKOFF_MAX_S": "0.5",
            "DOORSTEP_WEBHOOK_TIMEOUT_S": "1",
            "DOORSTEP_WEBHOOK_MAX_ATTEMPTS": "100",
            "DOORSTEP_WEBHOOK_SENDERS": "4",
            "DOORSTEP_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receiver is on 127.0.0.1
        }
        self.log = folder / "hub.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "doorstep", "hub", "run"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_connected(self, times: int = 1, timeout: float = 60) -> None:
        """Until the log says the hub connected (``times`` in all): it is subscribed then."""
        deadline = time.monotonic() + timeout
        while self.log.read_text(errors="replace").count("hub connected") < times:
            assert self.proc is not None
            assert self.proc.poll() is None, self.log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the hub did not connect"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def test_a_hub_killed_mid_delivery_loses_nothing(database, plain_broker, receiver):
    _, device = add_device(database)
    subscribe(database, receiver.url(), ["doorstep.ring"], None)
    hub = HubProcess(database.url, plain_broker, Path(tempfile.mkdtemp(prefix="doorstep-wh-")))
    # Stall every request until released, then fail it: the hub is dead by then, and a
    # reply into a dead connection must not count as delivered.
    receiver.plan = lambda _g, _n: (500, {}, 60.0)
    link = MqttLink(LinkSettings(host=plain_broker.host, port=plain_broker.port, client_id=device))
    try:
        hub.start()
        hub.wait_connected()
        link.start()
        sent = [ring(device, seq) for seq in range(1, 21)]
        link.publish(encode(sent[0]))
        receiver.wait(lambda g: len(g) >= 1, timeout=60)  # the hub is up and sending
        for event in sent[1:]:
            link.publish(encode(event))
        stalled = receiver.wait(lambda g: len(g) >= 4, timeout=30)  # four senders, all stuck
        hub.kill()
        before = {g.headers["webhook-id"] for g in stalled}
        assert delivered_ids(stalled) == set(), "nothing was acknowledged before the kill"
        receiver.plan = lambda _g, n: (500, {}, 0.0) if n % 5 == 0 else (200, {}, 0.0)
        receiver.released.set()
        hub.start()  # stalled ones are under lease; rings in flight were lost with it...
        hub.wait_connected(times=2)
        for event in sent:  # ...so the door's outbox sends what sync did not confirm
            link.publish(encode(event))
        try:
            got = receiver.wait(lambda g: delivered_ids(g) == {e.id for e in sent}, timeout=90)
        except AssertionError:
            for d in _deliveries(database):
                sys.stderr.write(
                    f"{d.id} {d.status} {d.attempts} {d.next_attempt_at} {d.last_error}\n"
                )
            raise
        assert before <= delivered_ids(got), "what was in flight at the kill was sent again"
        again = [g for g in got if g.headers["webhook-id"] in before]
        assert len(again) > len(before), "at least once: the stalled ones came twice"
        assert len(_deliveries(database)) == len(sent), "a ring sent twice is one CloudEvent"
    finally:
        link.stop()
        hub.stop()
        sys.stderr.write(hub.log.read_text(errors="replace")[-3000:])
