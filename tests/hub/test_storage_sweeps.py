"""The registry's batch heartbeat update (and its handler), and the health monitor's
indexed sweeps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.handlers import HandlerContext, on_heartbeats
from hub.storage import (
    AlertKind,
    Database,
    DeviceHealth,
    get_device,
    raise_alert,
    record_state,
    register_device,
    revoke_device,
    set_health,
)
from hub.storage.alerts import open_alert_scopes
from hub.storage.devices import not_online, record_telemetries
from hub.storage.snapshot_files import SnapshotFiles
from hub.storage.sweeps import lingering_doors, presence_candidates
from protocol.device import DeviceState, DoorState, LockState, Telemetry
from protocol.examples import EXAMPLE_BOOT
from tests.fixtures.database import T0

PEM = "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n"


def _devices(db: Database, n: int) -> list[str]:
    ids = [f"door-sweep{i:04d}" for i in range(n)]
    with db.session() as s:
        for device in ids:
            register_device(s, device_id=device, name="d", public_key_pem=PEM, at=T0)
    return ids


def _beat(device: str, version: str = "1.0", disk: int | None = None) -> Telemetry:
    return Telemetry(
        device=device,
        boot_id=EXAMPLE_BOOT,
        at=T0,
        monotonic_ms=5,
        clock_synced=True,
        uptime_s=5,
        software_version=version,
        outbox_depth=0,
        disk_free_bytes=disk,
    )


def test_batched_heartbeats_keep_the_newest_per_device(database: Database) -> None:
    a, b = _devices(database, 2)
    t = [T0 + timedelta(seconds=s) for s in range(4)]
    with database.session() as s:
        record_telemetries(s, [(_beat(a, "new"), t[2]), (_beat(a, "old"), t[1])])
        record_telemetries(s, [(_beat(b, "first"), t[1]), (_beat(b, "second"), t[3])])
    with database.session() as s:
        record_telemetries(s, [(_beat(b, "late"), t[2])])  # older than what is stored
        record_telemetries(s, [])
    with database.read_session() as s:
        assert (get_device(s, a).software_version, get_device(s, a).last_seen) == ("new", t[2])
        assert (get_device(s, b).software_version, get_device(s, b).last_seen) == ("second", t[3])


def test_presence_candidates_skip_offline_and_recent_devices(database: Database) -> None:
    fresh, silent, degraded, offline, never, revoked = _devices(database, 6)
    now = T0 + timedelta(seconds=1000)
    degraded_before, offline_before = now - timedelta(seconds=45), now - timedelta(seconds=90)
    with database.session() as s:
        record_telemetries(
            s,
            [
                (_beat(fresh), now - timedelta(seconds=10)),
                (_beat(silent), now - timedelta(seconds=60)),
                (_beat(degraded), now - timedelta(seconds=60)),
                (_beat(offline), now - timedelta(seconds=500)),
                (_beat(revoked), now - timedelta(seconds=500)),
            ],
        )
        for d in (fresh, silent, degraded, offline, revoked):
            set_health(s, d, DeviceHealth.ONLINE, T0)
        set_health(s, degraded, DeviceHealth.DEGRADED, T0)
        set_health(s, offline, DeviceHealth.OFFLINE, T0)
        revoke_device(s, revoked, T0)
    with database.read_session() as s:
        found = presence_candidates(
            s, degraded_before=degraded_before, offline_before=offline_before
        )
        # "degraded" was heard 60 s ago: degraded already, not yet due for offline.
        assert [d.id for d in found] == [silent, never]
        assert found[1].last_seen is None
        assert found[1].heard == T0, "a device never heard from counts from its registration"
        later = presence_candidates(
            s, degraded_before=degraded_before, offline_before=now - timedelta(seconds=30)
        )
        assert [d.id for d in later] == [silent, degraded, never]
        assert len(presence_candidates(s, degraded_before=now, offline_before=now, limit=2)) == 2


def test_lingering_doors_only_until_their_alert_is_open(database: Database) -> None:
    open_door, unlocked, fine = _devices(database, 3)
    states = {
        open_door: (LockState.ENGAGED, DoorState.OPEN),
        unlocked: (LockState.RELEASED, DoorState.CLOSED),
        fine: (LockState.ENGAGED, DoorState.CLOSED),
    }
    with database.session() as s:
        for device, (lock, door) in states.items():
            state = DeviceState(
                device=device, lock=lock, door=door, boot_id=EXAMPLE_BOOT, at=T0, seq=1
            )
            record_state(s, state, T0)
    later = T0 + timedelta(seconds=400)
    with database.session() as s:
        early = lingering_doors(s, door_open_before=T0, unlocked_before=T0)
        assert early == []
        due = lingering_doors(s, door_open_before=later, unlocked_before=later)
        assert {(d.id, d.kind) for d in due} == {
            (open_door, AlertKind.DOOR_LEFT_OPEN),
            (unlocked, AlertKind.DOOR_LEFT_UNLOCKED),
        }
        raise_alert(s, AlertKind.DOOR_LEFT_OPEN, at=later, device_id=open_door)
        again = lingering_doors(s, door_open_before=later, unlocked_before=later)
        assert [(d.id, d.kind) for d in again] == [(unlocked, AlertKind.DOOR_LEFT_UNLOCKED)]


def test_batch_helpers_not_online_and_open_alert_scopes(database: Database) -> None:
    a, b, c = _devices(database, 3)
    with database.session() as s:
        set_health(s, a, DeviceHealth.ONLINE, T0)
        raise_alert(s, AlertKind.LOW_DISK, at=T0, device_id=b)
        assert not_online(s, [a, b, c, b]) == {b: None, c: None}
        set_health(s, c, DeviceHealth.OFFLINE, T0)
        assert not_online(s, [a, c]) == {c: T0}
        assert not_online(s, []) == {}
        assert open_alert_scopes(s, AlertKind.LOW_DISK, [a, b]) == {b}
        assert open_alert_scopes(s, AlertKind.TAMPER, [a, b]) == set()


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (
            "SELECT id FROM devices WHERE health IN ('online','unknown') AND last_seen < :t",
            "ix_devices_health_last_seen",
        ),
        (
            "SELECT id FROM devices WHERE door_state = 'open' AND state_received_at < :t",
            "ix_devices_door_state_state_received_at",
        ),
        (
            "SELECT id FROM devices WHERE lock_state = 'released' AND state_received_at < :t",
            "ix_devices_lock_state_state_received_at",
        ),
    ],
)
def test_sweeps_are_index_reads_on_sqlite(database: Database, sql: str, index: str) -> None:
    if database.dialect != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    _devices(database, 50)
    with database.read_session() as s:
        plan = " ".join(
            str(row[-1]) for row in s.execute(text("EXPLAIN QUERY PLAN " + sql), {"t": T0})
        )
    assert index in plan, plan


def test_a_heartbeat_revives_a_silent_device_but_not_an_older_one(
    database: Database, tmp_path: Path
) -> None:
    device, other = _devices(database, 2)
    with database.session() as s:
        for d in (device, other):
            set_health(s, d, DeviceHealth.OFFLINE, T0)
            raise_alert(s, AlertKind.DEVICE_OFFLINE, at=T0, device_id=d)
    with database.session() as s:
        ctx = HandlerContext(s, SnapshotFiles(tmp_path), received_at=T0)
        on_heartbeats(
            ctx,
            [
                (_beat(device), T0 + timedelta(seconds=5)),  # after the offline mark: back
                (_beat(other), T0 - timedelta(seconds=5)),  # received before it: stays offline
            ],
        )
        notices = [(n.kind, n.device_id, n.data.get("online")) for n in ctx.notices]
    assert notices == [("presence", device, True)]
    with database.read_session() as s:
        assert get_device(s, device).health is DeviceHealth.ONLINE
        assert get_device(s, other).health is DeviceHealth.OFFLINE
        assert open_alert_scopes(s, AlertKind.DEVICE_OFFLINE, [device, other]) == {other}
