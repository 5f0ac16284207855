"""Visit verification from real door events: a carer rings the simulated door, the family
unlocks through the signed command path, the carer comes in and later leaves; the hub's
own visit job (its clock moved by the test) records arrival, entry, departure and duration,
and tells the family and telecare once about a visit nobody came to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time as clock_time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.storage import add_membership, create_person, events_of, open_alerts
from hub.storage.models_commands import AlertKind
from hub.storage.models_registry import Role
from hub.storage.models_visit_records import VisitStatus
from hub.storage.visit_records import records_between
from hub.storage.visits import add_window
from hub.visit_records import VisitRecordsJob
from protocol import utcnow
from tests.hubrt.rig import HubRig
from tests.web.conftest import wait_online

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def rig(database: Any, plain_broker: Any) -> Iterator[HubRig]:
    r = HubRig(database, plain_broker, unlocks_per_minute=100).start()
    yield r
    r.stop()


def carer_with_visit(rig: HubRig, before: timedelta, after: timedelta) -> tuple[str, str]:
    """A carer and a one-off visit from now - before to now + after (London time)."""
    now = utcnow()
    start, end = (now - before).astimezone(LONDON), (now + after).astimezone(LONDON)
    if start.date() != end.date():
        pytest.skip("the visit would cross midnight: covered by tests/hub/test_visit_records.py")
    with rig.db.session() as s:
        carer = create_person(s, display_name="Sarah", at=now).id
        add_membership(s, person_id=carer, home_id=rig.home, role=Role.CARER, at=now)
        window = add_window(
            s,
            home_id=rig.home,
            carer_id=carer,
            agency="Helping Hands",
            on_date=start.date(),
            start=clock_time(start.hour, start.minute),
            end=clock_time(end.hour, end.minute),
            tolerance_min=5,
            created_by=rig.family,
            at=now - timedelta(days=1),
        ).id
    return carer, window


def kinds(rig: HubRig, device: str) -> list[str]:
    with rig.db.read_session() as s:
        return [e.kind for e in events_of(s, device)]


def wait_for(rig: HubRig, device: str, kind: str, count: int) -> None:
    assert rig.wait_until(lambda: kinds(rig, device).count(kind) >= count), kinds(rig, device)


def test_arrival_entry_departure_and_duration_from_real_door_events(rig: HubRig) -> None:
    device = rig.add_device()
    _agent, board = rig.agent(device, hold_s=1.0)
    wait_online(rig, device)
    carer, window = carer_with_visit(rig, timedelta(minutes=2), timedelta(minutes=30))

    board.ring()  # the carer arrives
    wait_for(rig, device, "ring", 1)
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family, reason="Sarah")
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    board.open_door()  # comes in while the lock is released
    wait_for(rig, device, "door_opened", 1)
    board.close_door()
    wait_for(rig, device, "door_closed", 1)
    wait_for(rig, device, "lock_changed", 3)  # engaged at boot, released, engaged again

    job = VisitRecordsJob(rig.db, rig.hub.bus, clock=rig.clock)
    job.run()
    with rig.db.read_session() as s:
        (inside,) = records_between(s, rig.home, utcnow() - timedelta(days=1), utcnow())
    assert inside.status is VisitStatus.ENTERED
    assert inside.entry_command_id == ticket.id

    board.open_door()  # leaves
    wait_for(rig, device, "door_opened", 2)
    board.close_door()
    wait_for(rig, device, "door_closed", 2)
    job.run()
    VisitRecordsJob(rig.db, rig.hub.bus, clock=rig.clock).run()  # a second process, or a restart

    with rig.db.read_session() as s:
        stored = {(e.kind, i): e.device_time for i, e in enumerate(events_of(s, device))}
        (record,) = records_between(s, rig.home, utcnow() - timedelta(days=1), utcnow())
    rang = min(t for (k, _), t in stored.items() if k == "ring")
    opened = sorted(t for (k, _), t in stored.items() if k == "door_opened")
    closed = sorted(t for (k, _), t in stored.items() if k == "door_closed")
    assert (record.window_id, record.carer_id) == (window, carer)
    assert record.status is VisitStatus.COMPLETED
    assert (record.arrival_at, record.arrival_via, record.late) == (rang, "ring", False)
    assert record.entry_at == opened[0]
    assert record.departure_at == closed[1]
    assert record.duration_s == int((closed[1] - opened[0]).total_seconds())
    assert record.final is True


def test_the_hubs_own_job_tells_family_and_telecare_once_about_a_missed_visit(
    rig: HubRig,
) -> None:
    device = rig.add_device()
    rig.agent(device)
    wait_online(rig, device)
    _carer, window = carer_with_visit(rig, timedelta(minutes=2), timedelta(minutes=10))
    heard = rig.hub.bus.subscribe()
    rig.clock.advance_to(16 * 60)  # past the end (+10 min) and its tolerance (5 min)
    rig.hub.visit_records.run()
    rig.clock.advance_to(20 * 60)
    rig.hub.visit_records.run()
    told = []
    while (n := heard.get(0.3)) is not None:
        if n.kind == "notify" and n.data["message_kind"] == "carer_non_arrival":
            told.append(n)
    assert len(told) == 1
    assert set(told[0].data["to"]) == {rig.family, rig.telecare}
    assert told[0].data["extra"]["window_id"] == window
    with rig.db.read_session() as s:
        (alert,) = open_alerts(s, kind=AlertKind.CARER_NON_ARRIVAL)
    assert alert.device_id == device
    assert alert.occurrences == 1
