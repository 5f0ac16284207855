"""The webhook outbox and delivery rows on a real database (SQLite and PostgreSQL):
written with the event or alert that causes them, fanned out by type and home once,
claimed under a lease, retried with backoff, dead after N, and signed verifiably."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import timedelta

from sqlalchemy import select

from hub.storage.alerts import raise_alert, resolve_open_alert
from hub.storage.events import store_events
from hub.storage.models_commands import AlertKind
from hub.storage.models_webhooks import WebhookDelivery, WebhookOutboxRow
from hub.webhooks.cloudevents import envelope
from hub.webhooks.deliveries import claim_due, prune, record_delivered, record_failed, retry_dead
from hub.webhooks.outbox import capture_events, fan_out
from hub.webhooks.settings import WebhookSettings
from hub.webhooks.signing import signed_headers, verify
from hub.webhooks.subscriptions import add_subscription
from hub.webhooks.worker import next_delay
from protocol.device import LockState
from protocol.events import LockCause, LockChanged
from protocol.examples import EXAMPLE_BOOT
from tests.fixtures.database import T0, add_device, ring

SUB_URL = "https://partner.example.invalid/hook"


def _subscribe(db, types, home=None):
    with db.session() as s:
        return add_subscription(
            s, partner="P", url=SUB_URL, event_types=types, home_id=home, by="operator:t", at=T0
        )[0].id


def _store(db, events):
    with db.session() as s:
        store_events(s, events, T0)
        capture_events(s, events)


def _outbox(db):
    with db.read_session() as s:
        return list(s.scalars(select(WebhookOutboxRow).order_by(WebhookOutboxRow.id)))


def _deliveries(db):
    with db.read_session() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_nothing_is_written_while_nobody_subscribes(database):
    _, device = add_device(database)
    _store(database, [ring(device, 1)])
    assert _outbox(database) == []


def test_events_become_cloudevents_once_with_the_device_event_id(database):
    home, device = add_device(database)
    _subscribe(database, ["doorstep.ring"])
    first = ring(device, 1)
    unlock = LockChanged(
        device=device,
        id="00000000-0000-4000-8000-000000000002",
        seq=2,
        boot_id=EXAMPLE_BOOT,
        at=T0,
        monotonic_ms=5,
        state=LockState.RELEASED,
        cause=LockCause.MANUAL,
    )
    _store(database, [first, unlock])
    _store(database, [first])  # redelivered by the door: no second CloudEvent
    rows = _outbox(database)
    assert [(r.ce_id, r.type) for r in rows] == [
        (first.id, "doorstep.ring"),
        (unlock.id, "doorstep.door.unlocked"),
    ]
    ce = envelope(rows[0], source="urn:doorstep:test")
    assert ce["specversion"] == "1.0"
    assert ce["subject"] == f"devices/{device}"
    assert ce["time"] == "2026-11-25T09:00:00Z"
    assert ce["data"] == {
        "device": device,
        "home": home,
        "event_id": first.id,
        "seq": 1,
        "has_snapshot": False,
    }
    assert rows[1].data["remote"] is False


def test_an_event_that_was_not_stored_makes_no_cloudevent(database):
    _, device = add_device(database)
    _subscribe(database, ["doorstep.ring"])
    with database.session() as s:
        capture_events(s, [ring(device, 1)])  # never stored (e.g. its savepoint rolled back)
    assert _outbox(database) == []


def test_alerts_raised_and_resolved_carry_generic_and_specific_types(database):
    _, device = add_device(database)
    _subscribe(database, ["doorstep.alert.raised"])
    with database.session() as s:
        alert, _ = raise_alert(s, AlertKind.DEVICE_OFFLINE, at=T0, device_id=device)
        raise_alert(s, AlertKind.DEVICE_OFFLINE, at=T0, device_id=device)  # counted, not new
        resolve_open_alert(s, AlertKind.DEVICE_OFFLINE, device, at=T0 + timedelta(minutes=1))
    assert [(r.ce_id, r.type) for r in _outbox(database)] == [
        (f"alert-{alert.id}-raised", "doorstep.alert.raised"),
        (f"alert-{alert.id}-offline", "doorstep.device.offline"),
        (f"alert-{alert.id}-resolved", "doorstep.alert.resolved"),
        (f"alert-{alert.id}-online", "doorstep.device.online"),
    ]
    assert "details" not in _outbox(database)[0].data, "free-text details never leave the hub"


def test_fan_out_matches_type_and_home_and_runs_once(database):
    home, device = add_device(database)
    other_home, other_device = add_device(database)
    rings_here = _subscribe(database, ["doorstep.ring"], home)
    everything = _subscribe(database, ["doorstep.ring", "doorstep.door.opened"])
    _subscribe(database, ["doorstep.alert.raised"], home)  # wants no rings
    _store(database, [ring(device, 1), ring(other_device, 1)])
    with database.session() as s:
        assert fan_out(s, now=T0) == 2
    with database.session() as s:
        assert fan_out(s, now=T0) == 0
    got = sorted((d.subscription_id, d.outbox_id) for d in _deliveries(database))
    mine, theirs = (r.id for r in _outbox(database))
    assert got == sorted([(rings_here, mine), (everything, mine), (everything, theirs)])
    assert other_home != home


def test_a_claim_is_a_lease_and_failures_back_off_until_dead(database):
    _, device = add_device(database)
    _subscribe(database, ["doorstep.ring"])
    _store(database, [ring(device, 1)])
    with database.session() as s:
        fan_out(s, now=T0)
    with database.session() as s:
        (job,) = claim_due(s, now=T0, lease_s=15, limit=10)
    with database.session() as s:
        assert claim_due(s, now=T0 + timedelta(seconds=14), lease_s=15, limit=10) == []
    with database.session() as s:  # the sender died: once the lease ends, it is due again
        (again,) = claim_due(s, now=T0 + timedelta(seconds=16), lease_s=15, limit=10)
    assert again.delivery_id == job.delivery_id
    with database.session() as s:
        record_failed(s, job.delivery_id, status=500, error="HTTP 500", now=T0, retry_at=None)
    (dead,) = _deliveries(database)
    assert (dead.status, dead.attempts, dead.last_status) == ("dead", 1, 500)
    with database.session() as s:
        retry_dead(s, job.delivery_id, now=T0)
    assert _deliveries(database)[0].status == "pending"


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    settings = WebhookSettings(backoff_base_s=10, backoff_max_s=100, retry_after_max_s=600)
    rng = random.Random(7)
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        delay = next_delay(attempts, None, settings, rng)
        assert ceiling / 2 <= delay <= ceiling
    assert next_delay(1, 300, settings, rng) == 300
    assert next_delay(1, 10_000, settings, rng) == 600, "a Retry-After is capped"


def test_a_receiver_recomputing_the_hmac_accepts_it_and_refuses_changes():
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"id":"x"}'
    headers = signed_headers(secret, "msg-1", body, timestamp=1_700_000_000)
    # What a partner writes from docs/webhooks.md, independent of our code:
    content = b"msg-1.1700000000." + body
    mac = hmac.new(b"k" * 32, content, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    assert verify(secret, headers, body, now=1_700_000_100)
    assert not verify(secret, headers, body + b" ", now=1_700_000_100)
    assert not verify(secret, headers, body, now=1_700_000_000 + 301), "too old: a replay"
    assert not verify("whsec_" + base64.b64encode(b"j" * 32).decode(), headers, body)


def test_pruning_forgets_old_delivered_rows_and_keeps_dead_and_pending_ones(database):
    _, device = add_device(database)
    _subscribe(database, ["doorstep.ring"])
    _store(database, [ring(device, seq) for seq in (1, 2, 3)])
    with database.session() as s:
        fan_out(s, now=T0)
    with database.session() as s:
        done, dead, _waiting = claim_due(s, now=T0, lease_s=15, limit=10)
        record_delivered(s, done.delivery_id, status=200, now=T0)
        record_failed(s, dead.delivery_id, status=500, error="x", now=T0, retry_at=None)
    with database.session() as s:
        assert prune(s, before=T0) == 0, "not old enough yet"
    with database.session() as s:
        assert prune(s, before=T0 + timedelta(days=1)) == 1
    assert sorted(d.status for d in _deliveries(database)) == ["dead", "pending"]
    assert len(_outbox(database)) == 2
