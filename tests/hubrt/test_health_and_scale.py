"""Health from silence (controlled clock), and two hubs sharing ingest."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from hub.service import Hub
from hub.storage import Database, events_of, open_alerts
from hub.storage.devices import get_device
from hub.storage.snapshot_files import SnapshotFiles
from protocol import encode, new_device_id, utcnow
from protocol.device import Telemetry
from tests.fixtures.database import ring
from tests.hubrt.rig import HubRig


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self):
        return utcnow() + self.offset


def _telemetry(device: str) -> Telemetry:
    return Telemetry(
        device=device,
        boot_id="ab" * 8,
        at=utcnow(),
        monotonic_ms=1000,
        clock_synced=False,
        uptime_s=1,
        software_version="test",
        outbox_depth=0,
    )


def test_missed_heartbeats_degrade_then_offline(database, plain_broker):
    rig = HubRig(
        database, plain_broker, degraded_after_s=45, offline_after_s=90, health_interval_s=3600
    )
    clock = Clock()
    rig.hub = Hub(database, rig.hub.files, rig.signer, rig.runtime, clock=clock)
    rig.start()
    try:
        device = rig.add_device()
        link = rig.device_link(device, will=False)
        link.publish(encode(_telemetry(device)))

        def health():
            with database.read_session() as s:
                return get_device(s, device).health.value

        assert rig.wait_until(lambda: get_last_seen(database, device) is not None)
        clock.offset = timedelta(seconds=30)
        rig.hub.health.check()
        assert health() != "degraded", "30 s of silence is within one heartbeat"
        clock.offset = timedelta(seconds=50)
        rig.hub.health.check()
        assert health() == "degraded"
        clock.offset = timedelta(seconds=91)
        rig.hub.health.check()
        assert health() == "offline", "offline within the 90 s limit"
        with database.read_session() as s:
            assert "device_offline" in [a.kind.value for a in open_alerts(s)]
    finally:
        rig.stop()


def get_last_seen(db: Database, device: str):
    with db.read_session() as s:
        return get_device(s, device).last_seen


@pytest.mark.timeout(500)
def test_two_hubs_on_a_shared_subscription_store_every_event_once(database, plain_broker):
    count = 10_000
    # A group of this test's own: the broker keeps earlier tests' (persistent) hub
    # sessions in their groups, and would hand them a share of our messages.
    rig = HubRig(database, plain_broker, shared_group=f"hub-{new_device_id()}")
    second_db = Database(database.url)
    second = Hub(
        second_db,
        SnapshotFiles(rig.root / "snapshots"),
        rig.signer,
        rig.runtime.model_copy(update={"mqtt_client_id": rig.runtime.mqtt_client_id + "-b"}),
    )
    rig.start()
    second.start()
    try:
        device = rig.add_device()
        link = rig.device_link(device, will=False)
        for seq in range(1, count + 1):
            info = link.publish(encode(ring(device, seq)))
        info.wait_for_publish(30)

        def stored() -> int:
            time.sleep(0.5)  # poll gently: this loop must not starve the hubs
            with database.read_session() as s:
                return get_device(s, device).stored_through

        assert rig.wait_until(lambda: stored() >= count, timeout=400)
        with database.read_session() as s:
            seqs = [e.seq for e in events_of(s, device, limit=count + 10)]
        assert seqs == list(range(1, count + 1)), "every event exactly once"
        shares = (rig.hub.ingest.stats.received, second.ingest.stats.received)
        assert all(n > 0 for n in shares), f"both hubs took part: {shares}"
        assert sum(shares) >= count
    finally:
        second.stop()
        second_db.dispose()
        rig.stop()
