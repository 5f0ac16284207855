"""The notice relay: two hubs share ingest (one MQTT v5 shared subscription, one real
broker, one real database); a real edge agent rings, and each hub's notice board hears
every ring exactly once, whichever hub stored it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hub.bus import Notice, Subscription
from hub.notice_relay import (
    MAX_PAYLOAD,
    NoticeRelay,
    RelayedNotice,
    RelayedNotices,
    relay_enabled,
)
from hub.runtime_settings import HubRuntimeSettings
from hub.service import Hub
from hub.storage import Database
from hub.storage.events import events_of
from hub.storage.snapshot_files import SnapshotFiles
from protocol import new_device_id, utcnow
from protocol.topics import HUB_NOTICES
from tests.hubrt.rig import HubRig

END = "relay_test_end"  # a notice kind no one else posts: "all before it has arrived"


class Heard:
    """Everything one hub's board delivers, drained by a thread of its own."""

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.notices: list[Notice] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            notice = self.sub.get(timeout=0.1)
            if notice is not None:
                with self._cond:
                    self.notices.append(notice)
                    self._cond.notify_all()

    def of(self, kind: str, origin: str | object | None = ...) -> list[Notice]:
        with self._cond:
            return [
                n for n in self.notices if n.kind == kind and (origin is ... or n.origin == origin)
            ]

    def wait_for(self, kind: str, origin: str | None, timeout: float = 10) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: any(n.kind == kind and n.origin == origin for n in self.notices), timeout
            )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sub.close()


def relay_of(hub: Hub) -> NoticeRelay:
    assert hub.relay is not None, "the relay is on by default when ingest is shared"
    return hub.relay


@dataclass
class TwoHubs:
    rig: HubRig
    b: Hub
    heard_a: Heard
    heard_b: Heard

    @property
    def a(self) -> Hub:
        return self.rig.hub


@pytest.fixture
def two_hubs(database: Database, plain_broker) -> Iterator[TwoHubs]:
    # A group of this test's own: earlier tests' persistent hub sessions stay in theirs.
    rig = HubRig(database, plain_broker, shared_group=f"hub-{new_device_id()}")
    second_db = Database(database.url)
    b = Hub(
        second_db,
        SnapshotFiles(rig.root / "snapshots"),
        rig.signer,
        rig.runtime.model_copy(update={"mqtt_client_id": rig.runtime.mqtt_client_id + "-b"}),
    )
    relay_of(rig.hub)  # on by default: ingest is shared
    relay_of(b)
    # Listen before starting, so every notice a hub posts is heard (and counted).
    hubs = TwoHubs(rig, b, Heard(rig.hub.bus.subscribe()), Heard(b.bus.subscribe()))
    rig.start()
    b.start()
    try:
        yield hubs
    finally:
        hubs.heard_a.stop()
        hubs.heard_b.stop()
        b.stop()
        second_db.dispose()
        rig.stop()


def test_each_hub_hears_every_ring_once_whichever_hub_stored_it(two_hubs: TwoHubs) -> None:
    rig, a, b = two_hubs.rig, two_hubs.a, two_hubs.b
    heard_a, heard_b = two_hubs.heard_a, two_hubs.heard_b
    device = rig.add_device()
    _agent, board = rig.agent(device, cooldown_s=0.0)  # every press is a ring

    def stored_rings() -> list[str]:
        with rig.db.read_session() as s:
            return [e.event_id for e in events_of(s, device) if e.kind == "ring"]

    # Ring until each hub has stored some rings itself (the broker picks the member).
    for _ in range(30):
        before = len(stored_rings())
        board.ring()
        rig.wait_until(lambda n=before: len(stored_rings()) > n, timeout=3)
        if (
            len(stored_rings()) >= 6
            and len(heard_a.of("ring", None)) >= 2
            and len(heard_b.of("ring", None)) >= 2
        ):
            break
    stored = stored_rings()
    assert len(heard_a.of("ring", None)) >= 2, "hub A stored too few rings to prove anything"
    assert len(heard_b.of("ring", None)) >= 2, "hub B stored too few rings to prove anything"

    # Each hub's last relayed notice; what either posted before it has arrived once it has.
    a.bus.post(Notice(END, "", {}))
    b.bus.post(Notice(END, "", {}))
    assert heard_a.wait_for(END, relay_of(b).origin), "hub A never heard hub B's notices"
    assert heard_b.wait_for(END, relay_of(a).origin), "hub B never heard hub A's notices"
    # Our own echoes come back from the broker too, and are dropped, not delivered.
    for hub in (a, b):
        relay = relay_of(hub)
        assert rig.wait_until(lambda r=relay: r.stats.own == r.stats.messages), relay.stats
    for heard, me, other, heard_other in ((heard_a, a, b, heard_b), (heard_b, b, a, heard_a)):
        rings = heard.of("ring")
        ids = [n.data["event_id"] for n in rings]
        assert sorted(ids) == sorted(stored), "every stored ring heard exactly once"
        assert {n.origin for n in rings} == {None, relay_of(other).origin}
        # A relayed ring says what the other hub's own board said, word for word.
        posted = {n.data["event_id"]: n for n in heard_other.of("ring", None)}
        for n in rings:
            if n.origin is not None:
                original = posted[n.data["event_id"]]
                assert (n.kind, n.device_id, n.home_id, n.at, n.data) == (
                    original.kind, original.device_id, original.home_id, original.at,
                    original.data,
                )  # fmt: skip
        # A relayed notice is never relayed again: only local posts were published.
        local = [n for n in heard.notices if n.origin is None]
        assert relay_of(me).stats.published == len(local)
        assert relay_of(me).stats.delivered == len(heard.notices) - len(local)
        assert relay_of(me).stats.malformed == 0


def test_malformed_relayed_notices_are_counted_and_dropped(two_hubs: TwoHubs) -> None:
    rig, a, b = two_hubs.rig, two_hubs.a, two_hubs.b
    link = rig.device_link(new_device_id(), will=False)  # the plain test broker has no ACL
    notice = RelayedNotice(kind="ring", device_id="door-0a0b0c0d0e", at=utcnow(),
                           data={"seq": 1})  # fmt: skip
    good = RelayedNotices(origin="f" * 32, notices=[notice])
    fields = json.loads(good.model_dump_json())
    one = fields["notices"][0]
    bad = [
        b"not json",
        b"[]",
        json.dumps({**fields, "v": 2}).encode(),  # a version this hub does not speak
        json.dumps({**fields, "extra": 1}).encode(),
        json.dumps({**fields, "origin": "x"}).encode(),
        json.dumps({**fields, "notices": []}).encode(),
        json.dumps({**fields, "notices": [{**one, "at": "2026-11-25T09:00:00"}]}).encode(),
        json.dumps({**fields, "notices": [{**one, "kind": "Ring!"}]}).encode(),
        b"{" + b" " * MAX_PAYLOAD + b"}",
    ]
    for payload in [*bad, good.model_dump_json().encode()]:
        rig.raw(link, HUB_NOTICES, payload)
    for heard, hub in ((two_hubs.heard_a, a), (two_hubs.heard_b, b)):
        relay = relay_of(hub)
        assert heard.wait_for("ring", "f" * 32), "the hub stopped relaying after bad input"
        assert relay.stats.malformed == len(bad)
        assert [n.data for n in heard.of("ring", "f" * 32)] == [{"seq": 1}]
    # Still alive both ways.
    a.bus.post(Notice(END, "", {}))
    assert two_hubs.heard_b.wait_for(END, relay_of(a).origin)


def test_relay_is_on_with_a_shared_group_unless_switched() -> None:
    assert not relay_enabled(HubRuntimeSettings())
    assert relay_enabled(HubRuntimeSettings(shared_group="hub"))
    assert not relay_enabled(HubRuntimeSettings(shared_group="hub", notice_relay=False))
    assert relay_enabled(HubRuntimeSettings(notice_relay=True))
    assert not relay_enabled(HubRuntimeSettings(notice_relay=False))


def test_a_ring_with_its_picture_relays_without_the_bytes() -> None:
    # The ring notice carries its JPEG in-process; between processes the id is enough.
    ring = Notice("ring", "door-1", {"snapshot_id": "s1", "jpeg": b"\xff\xd8\xff\xe0"})
    message = RelayedNotices(origin="0" * 32, notices=[RelayedNotice.of(ring)])
    back = RelayedNotices.model_validate_json(message.model_dump_json()).notices[0]
    assert back.to_notice("0" * 32).data == {"snapshot_id": "s1"}
