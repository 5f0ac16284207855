"""``notify`` notices to explicit people, their preferences (kinds, channels, quiet hours
that never silence safety alerts), rate limits for a flapping door, receipts and "seen",
and pending retries that survive a restart - against the real push endpoint (VAPID
checked, payload decrypted) and the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.bus import Notice, NoticeBus
from hub.notify import NotifyWorker, VapidKeys, WebPushChannel
from hub.notify.preferences import Preferences, hold_back, in_quiet_hours, save
from hub.notify.ratelimit import RateLimit
from hub.notify.receipts import mark_seen, states
from hub.notify.route import Draft, row_of
from hub.notify.store import (
    add_recipient,
    claim_delivery,
    deliveries,
    record_attempt,
    save_notification,
    subscriptions_of,
)
from hub.notify.upkeep import left_pending
from hub.storage import Database, add_membership, create_home, create_person, register_device
from hub.storage.models_registry import Role
from protocol.signing import public_key_pem
from tests.hub.test_notify_webpush import (  # noqa: F401  (fixtures)
    SUBJECT,
    PushEndpoint,
    endpoint,
    keys,
    subscribe,
)

# 23:30 in London in winter (UTC+0): inside 22:00-07:00 quiet hours.
NIGHT = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)
DAY = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.at

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.at += timedelta(seconds=seconds)


def _people(db: Database, names: list[str], role: Role = Role.FAMILY_MEMBER) -> tuple[str, dict]:
    with db.session() as s:
        home = create_home(s, name="Flat 3", timezone="Europe/London", at=DAY).id
        people = {}
        for n in names:
            people[n] = create_person(s, display_name=n, at=DAY).id
            add_membership(s, person_id=people[n], home_id=home, role=role, at=DAY)
    return home, people


def _notify(to: list[str], kind: str, key: str, *, safety: bool = False, **extra: Any) -> dict:
    return {
        "to": to,
        "message_kind": kind,
        "key": key,
        "title": f"{kind} title",
        "body": f"{kind} body",
        "url": "/homes/h/ring",
        "tag": f"{kind}-tag",
        "safety": safety,
        "extra": extra,
    }


@pytest.fixture
def run(database: Database, keys: VapidKeys) -> Iterator[Any]:  # noqa: F811
    """Start a worker with a controlled clock; stops every worker it started."""
    workers: list[NotifyWorker] = []

    def start(clock: Clock, bus: NoticeBus, **kw: Any) -> NotifyWorker:
        kw.setdefault("retry_delays_s", (0.05, 0.1))
        w = NotifyWorker(
            database, bus, [WebPushChannel(database, keys, subject=SUBJECT)], clock=clock, **kw
        )
        w.start()
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.stop()


def _settle(worker: NotifyWorker) -> None:
    assert worker.wait_idle(10)
    time.sleep(0.2)  # room for a wrong extra push to arrive
    assert worker.wait_idle(10)


def test_a_notify_notice_reaches_exactly_its_recipients_once_and_is_seen(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    home, p = _people(database, ["anna", "ben", "cleo"])
    for n in ("anna", "ben", "cleo"):
        subscribe(database, endpoint, p[n], n)
    bus, clock = NoticeBus(), Clock(DAY)
    worker = run(clock, bus)
    data = _notify([p["anna"], p["ben"]], "ring_escalated", "esc:e1:1", safety=True, step=1)
    bus.post(Notice("notify", "door-x", data, home))
    bus.post(Notice("notify", "door-x", data, home))  # the same again: nobody hears twice
    assert endpoint.wait(lambda rs: len(rs) >= 2)
    _settle(worker)
    assert endpoint.problems == []
    assert sorted(r.browser for r in endpoint.requests) == ["anna", "ben"]
    payload = endpoint.requests[0].payload
    assert payload is not None
    assert {k: payload[k] for k in ("key", "kind", "title", "body", "url", "tag")} == {
        "key": "esc:e1:1",
        "kind": "ring_escalated",
        "title": "ring_escalated title",
        "body": "ring_escalated body",
        "url": "/homes/h/ring",
        "tag": "ring_escalated-tag",
    }
    assert payload["data"]["step"] == 1
    assert payload["data"]["home"] == "Flat 3"
    with database.session() as s:
        assert states(s, "esc:e1:1") == {p["anna"]: "sent", p["ben"]: "sent"}
        assert mark_seen(s, "esc:e1:1", p["anna"], DAY) is True
        assert mark_seen(s, "esc:e1:1", p["anna"], DAY) is False  # once is enough
        assert mark_seen(s, "esc:e1:1", p["cleo"], DAY) is None  # not hers
    with database.read_session() as s:
        assert states(s, "esc:e1:1") == {p["anna"]: "seen", p["ben"]: "sent"}
        assert states(s, "no-such-key") == {}


def test_preferences_and_quiet_hours_never_silence_safety(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    names = ["quiet", "muted", "norings", "nopush"]
    home, p = _people(database, names)
    for n in names:
        subscribe(database, endpoint, p[n], n)
    with database.session() as s:
        night = {"quiet_start": "22:00", "quiet_end": "07:00"}
        save(s, p["quiet"], Preferences(**night), DAY)
        save(s, p["muted"], Preferences(muted_kinds=["checkin"]), DAY)
        save(s, p["norings"], Preferences(**night, rings_in_quiet_hours=False), DAY)
        save(s, p["nopush"], Preferences(off_channels=["webpush"]), DAY)
    bus, clock = NoticeBus(), Clock(NIGHT)
    worker = run(clock, bus)
    everyone = [p[n] for n in names]
    bus.post(Notice("notify", "door-x", _notify(everyone, "checkin", "checkin:1"), home))
    bus.post(Notice("notify", "door-x", _notify(everyone, "ring", "ring:n1"), home))
    bus.post(Notice("notify", "", _notify(everyone, "break_glass", "bg:1"), home))
    assert endpoint.wait(lambda rs: len(rs) >= 6)
    _settle(worker)
    got = sorted((r.browser, r.payload["kind"]) for r in endpoint.requests if r.payload)
    assert got == sorted(
        [
            # 23:30 in London: quiet hours hold back the check-in, not a ring (by default)...
            ("quiet", "ring"),
            ("quiet", "break_glass"),
            ("muted", "ring"),  # ...and "muted" is not in quiet hours but turned check-ins off
            ("muted", "break_glass"),
            ("norings", "break_glass"),  # rings held back too, the safety alert still goes
            # Push turned off and no other channel: only the safety alert uses it anyway.
            ("nopush", "break_glass"),
        ]
    )
    with database.read_session() as s:
        assert states(s, "checkin:1") == dict.fromkeys(everyone, "failed")
        assert states(s, "bg:1") == dict.fromkeys(everyone, "sent")


def test_quiet_hours_rule() -> None:
    prefs = Preferences(quiet_start="22:00", quiet_end="07:00")
    assert in_quiet_hours(prefs, NIGHT, "Europe/London")
    assert not in_quiet_hours(prefs, DAY, "Europe/London")
    # 23:30 UTC is 10:30 next morning in Sydney: the person's own zone wins over the home's.
    assert not in_quiet_hours(
        prefs.model_copy(update={"timezone": "Australia/Sydney"}), NIGHT, "UTC"
    )
    # 21:30 UTC in summer is 22:30 in London (BST): quiet.
    assert in_quiet_hours(prefs, datetime(2026, 7, 1, 21, 30, tzinfo=UTC), "Europe/London")
    day = Preferences(quiet_start="13:00", quiet_end="15:00")
    assert in_quiet_hours(day, datetime(2026, 1, 15, 14, 0, tzinfo=UTC), "UTC")
    assert not in_quiet_hours(day, datetime(2026, 1, 15, 15, 0, tzinfo=UTC), "UTC")
    assert hold_back(prefs, kind="checkin", safety=False, at=NIGHT, home_tz="UTC") == "quiet_hours"
    assert hold_back(prefs, kind="ring", safety=False, at=NIGHT, home_tz="UTC") is None
    assert hold_back(prefs, kind="checkin", safety=True, at=NIGHT, home_tz="UTC") is None
    with pytest.raises(ValueError, match="safety alert"):
        Preferences(muted_kinds=["device_offline"])
    with pytest.raises(ValueError, match="both"):
        Preferences(quiet_start="22:00")
    with pytest.raises(ValueError, match="time zone"):
        Preferences(timezone="Mars/Olympus")


def test_a_flapping_door_does_not_flood(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    home, p = _people(database, ["anna"])
    subscribe(database, endpoint, p["anna"], "anna")
    bus, clock = NoticeBus(), Clock(DAY)
    worker = run(clock, bus, rate_limit=RateLimit(count=2, window_s=600))
    for i in range(5):  # offline, online, offline... each a new alert
        bus.post(Notice("alert", "door-f", {"alert": "device_offline", "alert_id": i}, home))
        clock.advance(30)
    bus.post(Notice("alert", "door-g", {"alert": "device_offline", "alert_id": 50}, home))
    assert endpoint.wait(lambda rs: len(rs) >= 3)
    _settle(worker)
    assert sorted(r.payload["key"] for r in endpoint.requests) == ["alert:0", "alert:1", "alert:50"]
    assert {r.payload["tag"] for r in endpoint.requests} == {
        "device_offline-door-f",  # the same tag: the second replaced the first on the phone
        "device_offline-door-g",
    }
    clock.advance(600)  # the window has passed: the next one goes again
    bus.post(Notice("alert", "door-f", {"alert": "device_offline", "alert_id": 9}, home))
    assert endpoint.wait(lambda rs: len(rs) >= 4)
    _settle(worker)
    assert len(endpoint.requests) == 4
    with database.read_session() as s:
        assert states(s, "alert:2") == {p["anna"]: "failed"}  # held back by the limit


def test_pending_retries_resume_after_a_restart_when_due(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    home, p = _people(database, ["anna", "ben"])
    subscribe(database, endpoint, p["anna"], "anna", (503,))
    subscribe(database, endpoint, p["ben"], "ben")
    bus, clock = NoticeBus(), Clock(DAY)
    # A first worker fails once, records a retry 120 s later, and stops before it.
    first = run(clock, bus, retry_delays_s=(120.0,))
    bus.post(Notice("notify", "", _notify([p["anna"]], "checkin", "c:1"), home))
    assert endpoint.wait(lambda rs: len(rs) >= 1)
    time.sleep(0.2)
    first.stop()
    with database.read_session() as s:
        (row,) = deliveries(s, "c:1")
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.next_attempt_at is not None
        assert row.next_attempt_at >= DAY + timedelta(seconds=120)
    # A crash between claim and send leaves a pending row with no attempt at all (c:2,
    # made here by claiming without sending); one from yesterday is too old to send now.
    with database.session() as s:
        for key, at in (("c:2", DAY), ("c:old", DAY - timedelta(days=1))):
            save_notification(
                s, row_of(Draft(key, "checkin", home, "", False, "t", "b", "/", "t"), at)
            )
            add_recipient(
                s, key=key, person_id=p["ben"], device_id="", kind="checkin", skipped=None, at=at
            )
            sub = subscriptions_of(s, p["ben"])[0].id
            assert claim_delivery(
                s, key=key, person_id=p["ben"], channel="webpush", target=sub, at=at
            )
    endpoint.script["anna"] = [201]
    clock.advance(60)  # restarted 60 s later: ben's is due now, anna's in another 60+ s
    second = run(clock, NoticeBus(), retry_delays_s=(120.0,))
    assert endpoint.wait(lambda rs: any(r.payload and r.payload["key"] == "c:2" for r in rs))
    time.sleep(0.3)
    assert [r.payload["key"] for r in endpoint.to("anna")] == ["c:1"]  # not yet due
    second.stop()
    with database.read_session() as s:
        (old,) = deliveries(s, "c:old")
        assert (old.status, old.last_error) == ("failed", "too old to send after a restart")
        assert [r.status for r in deliveries(s, "c:2")] == ["sent"]
    # Due time passed: a third start sends anna's retry at once.
    clock.advance(120)
    third = run(clock, NoticeBus(), retry_delays_s=(120.0,))
    assert endpoint.wait(lambda rs: len(endpoint.to("anna")) >= 2)
    assert third.wait_idle(10)
    with database.read_session() as s:
        assert [(r.status, r.attempts) for r in deliveries(s, "c:1")] == [("sent", 2)]
        assert states(s, "c:1") == {p["anna"]: "sent"}


def test_old_notifications_are_forgotten_unless_still_pending(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    home, p = _people(database, ["anna"])
    sub = subscribe(database, endpoint, p["anna"], "anna")
    old = DAY - timedelta(days=31)
    with database.session() as s:
        for key, status in (("old:sent", "sent"), ("old:pending", "pending"), ("new", "sent")):
            at = DAY if key == "new" else old
            draft = Draft(key, "checkin", home, "", False, "t", "Carol is expected", "/", "t")
            save_notification(s, row_of(draft, at))
            add_recipient(
                s, key=key, person_id=p["anna"], device_id="", kind="checkin", skipped=None, at=at
            )
            claim_delivery(s, key=key, person_id=p["anna"], channel="webpush", target=sub, at=at)
            if status == "sent":
                record_attempt(
                    s,
                    key=key,
                    person_id=p["anna"],
                    channel="webpush",
                    target=sub,
                    status="sent",
                    attempts=1,
                    error=None,
                    at=at,
                )
    worker = NotifyWorker(database, NoticeBus(), [], clock=Clock(DAY))  # not started
    assert worker.prune() == 1
    with database.read_session() as s:
        assert deliveries(s, "old:sent") == []
        assert states(s, "old:sent") == {}
        assert states(s, "old:pending") == {p["anna"]: "pending"}  # still to be sent: kept
        assert states(s, "new") == {p["anna"]: "sent"}


def test_an_alert_posted_without_its_home_reaches_the_doors_home(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    home, p = _people(database, ["anna"])
    subscribe(database, endpoint, p["anna"], "anna")
    with database.session() as s:
        key = Ed25519PrivateKey.generate().public_key()
        register_device(
            s,
            device_id="door-homeless1",
            name="Back door",
            public_key_pem=public_key_pem(key).decode(),
            at=DAY,
            home_id=home,
        )
    bus, clock = NoticeBus(), Clock(DAY)
    worker = run(clock, bus)
    # An alert posted without its home (as hub.health may): the door's home is told.
    bus.post(Notice("alert", "door-homeless1", {"alert": "device_offline", "alert_id": 77}))
    bus.post(Notice("alert", "door-unknown", {"alert": "device_offline", "alert_id": 78}))
    assert endpoint.wait(lambda rs: len(rs) >= 1)
    _settle(worker)
    (request,) = endpoint.requests
    assert request.payload is not None
    assert (request.payload["key"], request.payload["kind"]) == ("alert:77", "device_offline")
    assert request.payload["data"]["door"] == "Back door"


def test_two_hubs_that_resume_the_same_retry_send_it_once(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    home, p = _people(database, ["anna", "ben"])
    subscribe(database, endpoint, p["anna"], "anna")
    subscribe(database, endpoint, p["ben"], "ben")
    # Left by a stopped hub: anna's retry is due now; ben's was claimed but never tried
    # (40 s ago, so past the grace a running claimant gets).
    with database.session() as s:
        for key, who, attempts in (("r:1", "anna", 1), ("r:2", "ben", 0)):
            draft = Draft(key, "checkin", home, "", False, "t", "b", "/", "t")
            save_notification(s, row_of(draft, DAY - timedelta(seconds=40)))
            add_recipient(
                s, key=key, person_id=p[who], device_id="", kind="checkin", skipped=None,
                at=DAY - timedelta(seconds=40),
            )  # fmt: skip
            sub = subscriptions_of(s, p[who])[0].id
            assert claim_delivery(
                s, key=key, person_id=p[who], channel="webpush", target=sub,
                at=DAY - timedelta(seconds=40),
            )  # fmt: skip
            if attempts:
                record_attempt(
                    s, key=key, person_id=p[who], channel="webpush", target=sub,
                    status="pending", attempts=attempts, error="503", at=DAY,
                    next_attempt_at=DAY,
                )  # fmt: skip
    clock = Clock(DAY)
    hubs = [run(clock, NoticeBus()) for _ in range(3)]  # each re-queues both on start
    assert endpoint.wait(lambda rs: len(rs) >= 2)
    # The hubs that lost a race hold their copy until its lease ends (30 s away on the
    # test's clock), so they never go idle here: wait for a wrong extra push instead.
    time.sleep(0.5)
    for hub in hubs:
        hub.stop()
    assert sorted(r.payload["key"] for r in endpoint.requests) == ["r:1", "r:2"]
    assert endpoint.problems == []
    with database.read_session() as s:
        assert [(r.status, r.attempts) for r in deliveries(s, "r:1")] == [("sent", 2)]
        assert [(r.status, r.attempts) for r in deliveries(s, "r:2")] == [("sent", 2)]


def test_a_delivery_in_flight_is_left_to_its_hub_until_its_lease_ends(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    home, p = _people(database, ["anna"])
    subscribe(database, endpoint, p["anna"], "anna")
    with database.session() as s:
        draft = Draft("g:1", "checkin", home, "", False, "t", "b", "/", "t")
        save_notification(s, row_of(draft, DAY))
        add_recipient(
            s, key="g:1", person_id=p["anna"], device_id="", kind="checkin", skipped=None, at=DAY
        )
        sub = subscriptions_of(s, p["anna"])[0].id
        assert claim_delivery(s, key="g:1", person_id=p["anna"], channel="webpush", target=sub,
                              at=DAY)  # fmt: skip
    left = left_pending(database, {"webpush"}, DAY + timedelta(seconds=5), timedelta(hours=1))
    assert [(m.key, round(delay)) for _, m, _, delay in left] == [("g:1", 25)]


def test_a_pending_delivery_on_a_channel_no_longer_configured_does_not_stall_the_worker(
    database: Database,
    endpoint: PushEndpoint,  # noqa: F811
    run: Any,
) -> None:
    # A hub restarted without its SMS channel still finds an SMS delivery pending.
    home, p = _people(database, ["ben"])
    subscribe(database, endpoint, p["ben"], "ben")
    with database.session() as s:
        save_notification(
            s, row_of(Draft("s:1", "checkin", home, "", False, "t", "b", "/", "t"), DAY)
        )
        add_recipient(
            s, key="s:1", person_id=p["ben"], device_id="", kind="checkin", skipped=None, at=DAY
        )
        assert claim_delivery(
            s, key="s:1", person_id=p["ben"], channel="govuk_sms", target="+447700900123", at=DAY
        )
    bus = NoticeBus()
    worker = run(Clock(DAY), bus)
    assert worker.wait_idle(10), "the worker never became idle"
    with database.read_session() as s:
        (row,) = deliveries(s, "s:1")
        assert (row.status, row.last_error) == ("failed", "channel is off now")
    bus.post(Notice("notify", "", _notify([p["ben"]], "checkin", "c:9"), home))
    assert endpoint.wait(lambda rs: any(r.payload and r.payload["key"] == "c:9" for r in rs))
