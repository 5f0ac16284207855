"""Ingest through a real broker into a real database: idempotent, gap-aware, and
unshaken by bad input."""

from __future__ import annotations

import time

import pytest

from hub.storage import events_of, gaps, ingest_counts, open_alerts
from hub.storage.events import conflicts_of
from protocol import encode, new_device_id
from protocol.codec import encode_signed
from protocol.device import Telemetry
from protocol.events import LockChanged
from protocol.examples import EXAMPLE_BOOT, example_ack, example_events, example_snapshot
from protocol.signing import sign
from protocol.topics import PREFIX, TopicKind
from tests.fixtures.database import T0, ring
from tests.hubrt.rig import HubRig


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker).start()
    yield r
    r.stop()


def _stored(rig, device):
    with rig.db.read_session() as s:
        return [e.seq for e in events_of(s, device)]


def test_duplicates_and_out_of_order_are_stored_once_and_gaps_recorded(rig):
    device = rig.add_device()
    syncs = rig.watch_sync(device)
    link = rig.device_link(device)
    for seq in (1, 2, 2, 4, 3, 1, 6):
        link.publish(encode(ring(device, seq, event_id=f"00000000-0000-4000-8000-{seq:012d}")))
    assert rig.wait_until(lambda: _stored(rig, device) == [1, 2, 3, 4, 6])
    marks = syncs.wait(lambda items: any(m.stored_through == 4 for m in items))
    assert max(m.stored_through for m in marks) == 4, "sync never passes the gap at 5"
    with rig.db.read_session() as s:
        assert [(g.from_seq, g.to_seq) for g in gaps(s, device)][-1] == (5, 5)


def test_conflicting_duplicate_is_recorded_not_stored(rig):
    device = rig.add_device()
    link = rig.device_link(device)
    first = ring(device, 1)
    link.publish(encode(first))
    link.publish(encode(ring(device, 1)))  # same seq, different id: a reflashed device?

    def conflicts():
        with rig.db.read_session() as s:
            return conflicts_of(s, device)

    assert rig.wait_until(lambda: len(conflicts()) == 1)
    assert _stored(rig, device) == [1]
    with rig.db.read_session() as s:
        assert events_of(s, device)[0].event_id == first.id, "the first one stays"


def test_malformed_and_unknown_input_is_counted_and_ingest_keeps_running(rig):
    device = rig.add_device()
    link = rig.device_link(device)
    bad = [
        (f"{PREFIX}/{device}/event/ring", b"{not json"),
        (f"{PREFIX}/{device}/event/ring", b'{"v": 1, "device": "' + device.encode() + b'"}'),
        (f"{PREFIX}/{device}/event/teleport", b"{}"),
        (f"{PREFIX}/{device}/telemetry", b"\xff\xfe"),
        (f"{PREFIX}/{new_device_id()}/event/ring", encode(ring(device, 9)).payload),
        (f"{PREFIX}/{device}/snapshot/x", b"not a jpeg"),
    ]
    for topic, payload in bad:
        rig.raw(link, topic, payload)
    unknown = new_device_id()
    link.publish(encode(ring(unknown, 1)))  # a device nobody registered
    link.publish(encode(ring(device, 1)))  # and a good one after all that
    assert rig.wait_until(lambda: _stored(rig, device) == [1])
    rig.hub.ingest.wait_idle()
    with rig.db.read_session() as s:
        counts = ingest_counts(s)
    assert sum(n for (cat, _), n in counts.items() if cat == "malformed") >= 5
    assert counts[("refused", "unknown_device")] >= 1
    assert rig.hub.ingest.stats.malformed >= 5


def test_snapshot_is_stored_as_a_file(rig):
    device = rig.add_device()
    link = rig.device_link(device)
    snap = example_snapshot(device, seq=1)
    link.publish(encode(snap))
    assert rig.wait_until(lambda: _stored(rig, device) == [1])
    assert rig.hub.files.exists(snap.meta.sha256)


def test_offline_detected_from_the_last_will(rig):
    device = rig.add_device()
    agent, _board = rig.agent(device)
    from hub.storage.devices import get_device

    def health():
        with rig.db.read_session() as s:
            return get_device(s, device).health.value

    assert rig.wait_until(lambda: health() == "online")
    agent.link._client._sock.close()
    agent.link._client.loop_stop()
    assert rig.wait_until(lambda: health() == "offline", timeout=10)
    with rig.db.read_session() as s:
        kinds = [a.kind.value for a in open_alerts(s)]
    assert "device_offline" in kinds


def _heartbeat(device: str, n: int) -> Telemetry:
    return Telemetry(
        device=device,
        boot_id=EXAMPLE_BOOT,
        at=T0,
        monotonic_ms=90_000 + n,
        clock_synced=True,
        uptime_s=90 + n,
        software_version="0.1.0",
        disk_free_bytes=12_000_000_000,
        outbox_depth=0,
    )


def test_heartbeats_share_a_transaction_and_never_hold_back_a_ring(rig):
    device = rig.add_device()
    link = rig.device_link(device)
    ingest = rig.hub.ingest
    ingest.wait_idle()
    ingest.heartbeat_wait_s = 2.0  # a wide window, so its effect cannot be missed
    batches, received = ingest.stats.stored_batches, ingest.stats.received
    for n in range(10):
        link.publish(encode(_heartbeat(device, n)))
    assert rig.wait_until(lambda: ingest.stats.received == received + 10, timeout=10)
    assert ingest.wait_idle(5)  # "received" counts a batch before its transaction ends
    assert ingest.stats.stored_batches == batches + 1, "ten heartbeats, one transaction"

    # A ring arriving while heartbeats wait for company ends the wait at once.
    link.publish(encode(_heartbeat(device, 10)))
    link.publish(encode(ring(device, 1)))
    assert rig.wait_until(lambda: _stored(rig, device) == [1], timeout=1.0)


def test_a_commanded_release_waits_for_its_ack_so_both_share_a_transaction(rig):
    device = rig.add_device()
    link = rig.device_link(device)
    ingest = rig.hub.ingest
    ingest.wait_idle()
    ingest.ack_wait_s = 2.0  # a wide window, so its effect cannot be missed
    released = example_events(device, start_seq=0)[3]  # LockChanged, released by a command
    assert isinstance(released, LockChanged)
    assert released.command_id
    ack = sign(example_ack(device), rig.device_keys[device])
    batches = ingest.stats.stored_batches
    link.publish(encode(released))
    time.sleep(0.3)  # a slow door: the ack comes well after the short follow wait
    assert _stored(rig, device) == [], "the release is held back for its ack"
    link.publish(encode_signed(TopicKind.ACK, device, ack))
    assert rig.wait_until(lambda: _stored(rig, device) == [4], timeout=5)
    assert ingest.wait_idle(5)
    assert ingest.stats.stored_batches == batches + 1, "release and ack, one transaction"
