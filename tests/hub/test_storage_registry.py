"""Homes, people, roles and the device registry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.errors import AlreadyExists, InvalidValue, UnknownDevice, UnknownPerson
from hub.storage import (
    Database,
    DeviceHealth,
    Grant,
    Role,
    add_membership,
    count_ingest_problem,
    create_home,
    create_person,
    erase_person,
    get_device,
    get_person,
    ingest_counts,
    is_active_device,
    members_of,
    memberships_of,
    record_state,
    record_status,
    record_telemetry,
    register_device,
    revoke_device,
    set_health,
    silent_devices,
)
from protocol.device import DeviceState, DeviceStatus, DoorState, LockState, Telemetry
from protocol.examples import EXAMPLE_BOOT
from tests.fixtures.database import T0


def test_home_needs_a_real_time_zone(database: Database) -> None:
    with database.session() as s:
        home = create_home(s, name="Anna", timezone="Europe/London", at=T0)
        assert (home.retention_days, home.policies) == (30, {})
        with pytest.raises(InvalidValue, match="Europe/London"):
            create_home(s, name="Bad", timezone="Mars/Olympus", at=T0)


def test_naive_times_are_refused_with_the_hubs_error(database: Database) -> None:
    with pytest.raises(InvalidValue, match="naive datetime"), database.session() as s:
        create_home(s, name="Naive", timezone="UTC", at=T0.replace(tzinfo=None))


def test_memberships_and_erasure(database: Database) -> None:
    with database.session() as s:
        home = create_home(s, name="Anna", timezone="Europe/London", at=T0)
        carer = create_person(
            s, display_name="Bob Carer", contact={"phone": "+44 7700 900123"}, at=T0
        )
        officer = create_person(s, display_name="Council", at=T0)
        add_membership(s, person_id=carer.id, home_id=home.id, role=Role.CARER, at=T0)
        add_membership(
            s,
            person_id=officer.id,
            home_id=home.id,
            role=Role.TELECARE_OFFICER,
            at=T0,
            grants=[Grant.TELECARE_MAY_UNLOCK],
        )
        # Granting again replaces the grants instead of adding a second row.
        again = add_membership(
            s,
            person_id=officer.id,
            home_id=home.id,
            role=Role.TELECARE_OFFICER,
            at=T0,
            grants=["telecare_may_view_snapshots", "telecare_may_unlock"],
        )
        assert again.grants == ["telecare_may_unlock", "telecare_may_view_snapshots"]
        with pytest.raises(InvalidValue, match="grants are"):
            add_membership(
                s, person_id=carer.id, home_id=home.id, role=Role.CARER, at=T0, grants=["may_fly"]
            )
        carer_id, home_id = carer.id, home.id
    with database.session() as s:
        assert {m.role for m in members_of(s, home_id)} == {Role.CARER, Role.TELECARE_OFFICER}
        assert erase_person(s, carer_id)
        assert not erase_person(s, carer_id)
    with database.read_session() as s:
        with pytest.raises(UnknownPerson):
            get_person(s, carer_id)
        assert memberships_of(s, carer_id) == []
        assert [m.role for m in members_of(s, home_id)] == [Role.TELECARE_OFFICER]


def test_device_registration_and_revocation(database: Database, device_id: str) -> None:
    with database.session() as s:
        with pytest.raises(AlreadyExists):
            register_device(s, device_id=device_id, name="x", public_key_pem="x", at=T0)
        assert is_active_device(s, device_id)
        assert not is_active_device(s, "door-unknown")
        revoke_device(s, device_id, T0)
        assert not is_active_device(s, device_id)
        with pytest.raises(UnknownDevice):
            get_device(s, "door-unknown")


def _telemetry(device: str, **kw) -> Telemetry:
    base = {
        "device": device,
        "boot_id": EXAMPLE_BOOT,
        "at": T0,
        "monotonic_ms": 5000,
        "clock_synced": True,
        "uptime_s": 5,
        "software_version": "1.2.3",
        "outbox_depth": 2,
        "cpu_temp_c": 51.5,
        "disk_free_bytes": 10**9,
        "command_counter": 17,
    }
    return Telemetry(**(base | kw))


def test_presence_telemetry_and_state(database: Database, device_id: str) -> None:
    online = DeviceStatus(device=device_id, online=True, boot_id=EXAMPLE_BOOT, since=T0)
    with database.session() as s:
        assert record_status(s, online, received_at=T0)
        assert not record_status(s, online, received_at=T0)  # no change, no new alert
        record_telemetry(s, _telemetry(device_id), received_at=T0 + timedelta(seconds=30))
        # A late, older heartbeat does not overwrite the newer figures.
        record_telemetry(s, _telemetry(device_id, software_version="1.0.0"), received_at=T0)
        state = DeviceState(
            device=device_id,
            lock=LockState.JAMMED,
            door=DoorState.OPEN,
            boot_id=EXAMPLE_BOOT,
            at=T0,
            seq=9,
        )
        older = DeviceState(
            device=device_id,
            lock=LockState.ENGAGED,
            door=DoorState.CLOSED,
            boot_id=EXAMPLE_BOOT,
            at=T0,
            seq=8,
        )
        assert record_state(s, state, received_at=T0)
        assert not record_state(s, older, received_at=T0)
        device = get_device(s, device_id)
    assert device.health is DeviceHealth.ONLINE
    assert device.last_seen == T0 + timedelta(seconds=30)
    assert (device.software_version, device.outbox_depth, device.cpu_temp_c) == ("1.2.3", 2, 51.5)
    assert device.device_command_counter == 17
    assert (device.lock_state, device.door_state, device.state_seq) == (
        LockState.JAMMED,
        DoorState.OPEN,
        9,
    )


def test_silent_devices_and_health(database: Database, device_id: str) -> None:
    with database.session() as s:
        record_telemetry(s, _telemetry(device_id), received_at=T0)
        assert silent_devices(s, since=T0) == []
        assert [d.id for d in silent_devices(s, since=T0 + timedelta(seconds=91))] == [device_id]
        assert set_health(s, device_id, DeviceHealth.OFFLINE, T0)
        assert not set_health(s, device_id, DeviceHealth.OFFLINE, T0)


def test_ingest_counters(database: Database) -> None:
    with database.session() as s:
        count_ingest_problem(s, "malformed", "not_json", at=T0)
        count_ingest_problem(s, "malformed", "not_json", at=T0, n=2)
        count_ingest_problem(s, "refused", "unknown_device", at=T0)
        assert ingest_counts(s) == {("malformed", "not_json"): 3, ("refused", "unknown_device"): 1}


def test_a_new_boot_forgets_the_protocol_version_until_its_heartbeat(
    database: Database, device_id: str
) -> None:
    def version() -> str | None:
        return get_device(s, device_id).protocol_version

    with database.session() as s:
        online = DeviceStatus(device=device_id, online=True, boot_id=EXAMPLE_BOOT, since=T0)
        record_status(s, online, received_at=T0)
        record_telemetry(s, _telemetry(device_id, protocol_version="2"), received_at=T0)
        assert version() == "2"
        record_status(s, online, received_at=T0)  # the same boot reconnecting
        assert version() == "2"
        rebooted = online.model_copy(update={"boot_id": "cd" * 8})
        record_status(s, rebooted, received_at=T0 + timedelta(minutes=1))
        assert version() is None  # maybe other software now: v1 until it says more
