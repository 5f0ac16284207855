"""Ring previews: a new ring is on the notice board before its batch is stored, with its
picture; a ring the hub already holds, or one from a door in no home, is not previewed;
the stored ring still follows. And an ack with a bad signature is counted as refused."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from hub.bus import RING_PREVIEW, Notice, Subscription
from hub.storage import assign_home, events_of, ingest_counts
from protocol import encode
from protocol.codec import encode_signed
from protocol.examples import example_ack, example_snapshot
from protocol.signing import sign
from protocol.topics import TopicKind
from tests.fixtures.database import ring
from tests.hubrt.rig import HubRig


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker).start()
    yield r
    r.stop()


@contextlib.contextmanager
def writes_held(rig: HubRig) -> Iterator[None]:
    """Nobody else can write to the database (reads go on) until the block ends."""
    url = rig.db.engine.url
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
    else:
        with rig.db.engine.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
            yield


def _next(sub: Subscription, kinds: set[str], timeout: float = 5.0) -> Notice | None:
    while (notice := sub.get(timeout=timeout)) is not None:
        if notice.kind in kinds:
            return notice
    return None


def _stored(rig: HubRig, device: str) -> list[int]:
    with rig.db.read_session() as s:
        return [e.seq for e in events_of(s, device)]


def test_a_new_ring_is_previewed_with_its_picture_before_it_is_stored(rig: HubRig) -> None:
    device = rig.add_device()
    link = rig.device_link(device)
    sub = rig.hub.bus.subscribe()
    snap = example_snapshot(device, seq=1)
    bell = ring(device, 2).model_copy(update={"snapshot_id": snap.meta.id})
    # Nothing else in flight: a batch already waiting for the lock would hold up ours.
    assert rig.hub.ingest.wait_idle()
    with writes_held(rig):
        link.publish(encode(snap))
        link.publish(encode(bell))
        preview = _next(sub, {RING_PREVIEW, "ring"})
        assert preview is not None
        assert preview.kind == RING_PREVIEW
        assert _stored(rig, device) == []  # on the board, not yet in the database
    assert preview.home_id == rig.home
    assert preview.data["event_id"] == bell.id
    assert preview.data["jpeg"] == snap.jpeg
    stored = _next(sub, {"ring"}, timeout=20)
    assert stored is not None
    assert stored.data["event_id"] == bell.id
    assert rig.wait_until(lambda: _stored(rig, device) == [1, 2])


def test_a_ring_the_hub_holds_or_from_a_door_in_no_home_is_not_previewed(rig: HubRig) -> None:
    device = rig.add_device()
    link = rig.device_link(device)
    bell = ring(device, 1)
    link.publish(encode(bell))
    assert rig.wait_until(lambda: _stored(rig, device) == [1])
    rig.hub.ingest.wait_idle()
    sub = rig.hub.bus.subscribe()
    link.publish(encode(bell))  # resent after a reconnect
    loose = rig.add_device()
    with rig.db.session() as s:
        assign_home(s, loose, None)
    loose_link = rig.device_link(loose)
    loose_link.publish(encode(ring(loose, 1)))
    assert rig.wait_until(lambda: _stored(rig, loose) == [1])
    rig.hub.ingest.wait_idle()
    seen: list[Any] = []
    while (notice := sub.get(timeout=0.3)) is not None:
        seen.append((notice.kind, notice.device_id))
    assert (RING_PREVIEW, device) not in seen
    assert (RING_PREVIEW, loose) not in seen
    assert ("ring", device) not in seen  # a duplicate is not a new ring either


def test_an_ack_with_a_bad_signature_is_counted_as_refused(rig: HubRig) -> None:
    device = rig.add_device()
    link = rig.device_link(device)
    forged = sign(example_ack(device), Ed25519PrivateKey.generate())  # not the door's key
    link.publish(encode_signed(TopicKind.ACK, device, forged))
    link.publish(encode(ring(device, 1)))  # and ingest goes on
    assert rig.wait_until(lambda: _stored(rig, device) == [1])
    rig.hub.ingest.wait_idle()
    with rig.db.read_session() as s:
        counts = ingest_counts(s)
    assert counts.get(("refused", "SignatureInvalid")) == 1
    assert not any(category == "failed" for category, _ in counts)
