"""Visit records from stored door events, with the time set by each test: window edges,
London's daylight-saving Sundays, a visit past midnight, late and missed visits, and the
"carer non-arrival" notice told once however many passes run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.bus import NoticeBus
from hub.storage import (
    Database,
    acknowledge_alert,
    add_membership,
    create_home,
    create_person,
    open_alerts,
    register_device,
    store_event,
)
from hub.storage.models_commands import AlertKind
from hub.storage.models_registry import Role
from hub.storage.models_visit_records import VisitRecord, VisitStatus
from hub.storage.visit_records import records_between
from hub.storage.visits import add_check_in, add_window
from hub.visit_derivation import DoorEvent, derive
from hub.visit_records import OVERRUN, VisitRecordsJob, refresh
from hub.visits import expected_at
from protocol.events import DoorbellRang
from protocol.ids import new_device_id, new_message_id
from protocol.signing import public_key_pem

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # windows are made before every visit below
MINUTE = timedelta(minutes=1)


@pytest.fixture
def home(database: Database) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    with database.session() as s:
        home = create_home(s, name="Flat", timezone="Europe/London", at=T0).id
        carer = create_person(s, display_name="Bob", at=T0).id
        add_membership(s, person_id=carer, home_id=home, role=Role.CARER, at=T0)
        family = create_person(s, display_name="Anna", at=T0).id
        add_membership(s, person_id=family, home_id=home, role=Role.FAMILY_OWNER, at=T0)
        officer = create_person(s, display_name="Officer", at=T0).id
        add_membership(s, person_id=officer, home_id=home, role=Role.TELECARE_OFFICER, at=T0)
        device = register_device(
            s,
            device_id=new_device_id(),
            name="Front door",
            public_key_pem=public_key_pem(key.public_key()).decode(),
            at=T0,
            home_id=home,
        ).id
    ids = {"home": home, "carer": carer, "family": family, "officer": officer, "device": device}
    return ids | {"seq": [0]}


def window(db: Database, ids: dict[str, Any], start: time, end: time, **when: Any) -> str:
    with db.session() as s:
        return add_window(
            s,
            home_id=ids["home"],
            carer_id=ids["carer"],
            agency="Helping Hands",
            start=start,
            end=end,
            tolerance_min=15,
            created_by=ids["family"],
            at=T0,
            **when,
        ).id


def ring(db: Database, ids: dict[str, Any], at: datetime) -> None:
    ids["seq"][0] += 1
    event = DoorbellRang(
        device=ids["device"],
        id=new_message_id(),
        seq=ids["seq"][0],
        boot_id="ab" * 8,
        at=at,
        monotonic_ms=ids["seq"][0],
    )
    with db.session() as s:
        store_event(s, event, received_at=at)


def records(db: Database, ids: dict[str, Any], now: datetime) -> list[VisitRecord]:
    with db.session() as s:
        refresh(s, now)
    with db.read_session() as s:
        return records_between(s, ids["home"], T0, now + timedelta(days=1))


@pytest.mark.parametrize(
    ("offset", "arrived", "late"),
    [
        (-15 * MINUTE - timedelta(seconds=1), False, False),  # before start - tolerance
        (-15 * MINUTE, True, False),  # start - tolerance: early but counts
        (15 * MINUTE, True, False),  # start + tolerance: still on time
        (15 * MINUTE + timedelta(seconds=1), True, True),  # late
        (45 * MINUTE, True, True),  # end + tolerance: late, not missed
        (45 * MINUTE + timedelta(seconds=1), False, False),  # after the window: missed
    ],
)
def test_window_edges(
    database: Database, home: dict[str, Any], offset: timedelta, arrived: bool, late: bool
) -> None:
    window(database, home, time(9), time(9, 30), weekday=0)
    nine = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday; London is on UTC in March
    ring(database, home, nine + offset)
    (record,) = records(database, home, nine + timedelta(hours=1))
    assert record.planned_start == nine
    assert record.status is (VisitStatus.ARRIVED if arrived else VisitStatus.MISSED)
    assert record.late is late
    assert record.arrival_at == (nine + offset if arrived else None)
    assert record.arrival_via == ("ring" if arrived else None)


@pytest.mark.parametrize(
    ("sunday", "nine_local_utc"),
    [
        (date(2026, 3, 29), datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),  # clocks go forward
        (date(2026, 10, 25), datetime(2026, 10, 25, 9, 0, tzinfo=UTC)),  # clocks go back
    ],
)
def test_a_nine_oclock_visit_on_the_sunday_clocks_change(
    database: Database, home: dict[str, Any], sunday: date, nine_local_utc: datetime
) -> None:
    w = window(database, home, time(9), time(9, 30), weekday=6)
    week_before = sunday - timedelta(days=7)
    before_utc = datetime.combine(week_before, time(9), tzinfo=UTC)
    before_utc -= timedelta(hours=0 if sunday.month == 3 else 1)  # GMT before March, BST before Oct
    with database.read_session() as s:
        assert [e.window_id for e in expected_at(s, home["home"], nine_local_utc)] == [w]
        wrong_hour = nine_local_utc + timedelta(hours=1 if sunday.month == 3 else -1)
        assert expected_at(s, home["home"], wrong_hour) == []
    ring(database, home, nine_local_utc + 5 * MINUTE)
    now = nine_local_utc + timedelta(hours=3)
    mine = [r for r in records(database, home, now) if r.planned_start > now - timedelta(days=9)]
    assert [(r.planned_start, r.status) for r in mine] == [
        (before_utc, VisitStatus.MISSED),
        (nine_local_utc, VisitStatus.ARRIVED),
    ]
    assert mine[1].planned_end - mine[1].planned_start == timedelta(minutes=30)
    assert mine[1].late is False


def test_a_visit_past_midnight_is_one_record_and_arrives_after_midnight(
    database: Database, home: dict[str, Any]
) -> None:
    window(database, home, time(22), time(0, 30), weekday=4)  # Friday 22:00 to Saturday 00:30
    friday_22 = datetime(2026, 3, 6, 22, 0, tzinfo=UTC)
    ring(database, home, friday_22 + timedelta(hours=2, minutes=20))  # Saturday 00:20
    (record,) = records(database, home, friday_22 + timedelta(hours=4))
    assert (record.planned_start, record.planned_end) == (
        friday_22,
        friday_22 + timedelta(hours=2, minutes=30),
    )
    assert record.status is VisitStatus.ARRIVED
    assert record.late is True


def test_a_check_in_is_an_arrival_and_the_earlier_of_ring_and_check_in_counts(
    database: Database, home: dict[str, Any]
) -> None:
    w = window(database, home, time(9), time(9, 30), on_date=date(2026, 3, 3))
    nine = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    with database.session() as s:
        add_check_in(s, w, home["carer"], at=nine + 2 * MINUTE)
    ring(database, home, nine + 3 * MINUTE)
    (record,) = records(database, home, nine + 10 * MINUTE)
    assert (record.arrival_via, record.arrival_at) == ("check_in", nine + 2 * MINUTE)
    assert record.status is VisitStatus.ARRIVED
    assert record.final is False


def test_missed_visit_is_told_once_to_family_and_telecare_with_an_alert(
    database: Database, home: dict[str, Any]
) -> None:
    window(database, home, time(9), time(9, 30), on_date=date(2026, 3, 4))
    nine = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    bus = NoticeBus()
    heard = bus.subscribe()
    now = [nine]
    job = VisitRecordsJob(database, bus, clock=lambda: now[0])
    assert job.run() == 0  # during the visit: expected, nothing to tell
    now[0] = nine + 45 * MINUTE  # end + tolerance: still not missed
    assert job.run() == 0
    now[0] = nine + 46 * MINUTE
    assert job.run() == 1
    for later in (47, 60, 300):
        now[0] = nine + later * MINUTE
        assert job.run() == 0  # every later pass: nothing again
    notices = []
    while (n := heard.get(0)) is not None:
        notices.append(n)
    (notify,) = [n for n in notices if n.kind == "notify"]
    assert notify.home_id == home["home"]
    data = notify.data
    assert data["message_kind"] == "carer_non_arrival"
    assert data["safety"] is True
    assert sorted(data["to"]) == sorted([home["family"], home["officer"]])
    assert data["body"] == (
        "Bob (Helping Hands) was expected at Flat, Wednesday 09:00–09:30, and has not arrived."
    )
    assert data["url"] == f"/homes/{home['home']}"
    assert [n.kind for n in notices].count("alert") == 1
    with database.read_session() as s:
        (alert,) = open_alerts(s, kind=AlertKind.CARER_NON_ARRIVAL)
        (record,) = records_between(s, home["home"], T0, nine + timedelta(days=1))
    assert alert.device_id == home["device"]  # shown on the door's row of the fleet view
    assert alert.details["visit_record"] == record.id
    assert record.status is VisitStatus.MISSED
    assert record.final is True  # past end + tolerance + overrun
    assert record.non_arrival_notified_at == nine + 46 * MINUTE


def test_a_ring_delivered_late_from_the_outbox_turns_missed_into_arrived(
    database: Database, home: dict[str, Any]
) -> None:
    window(database, home, time(9), time(9, 30), on_date=date(2026, 3, 5))
    nine = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    job = VisitRecordsJob(database, NoticeBus(), clock=lambda: nine + timedelta(hours=1))
    assert job.run() == 1
    ring(database, home, nine + 20 * MINUTE)  # rang at 09:20; the door was offline till now
    assert job.run() == 0
    with database.read_session() as s:
        (record,) = records_between(s, home["home"], T0, nine + timedelta(days=1))
        assert open_alerts(s, kind=AlertKind.CARER_NON_ARRIVAL) == []
    assert (record.status, record.late) == (VisitStatus.ARRIVED, True)


def test_the_next_arrival_closes_an_acknowledged_non_arrival_so_a_new_one_can_rise(
    database: Database, home: dict[str, Any]
) -> None:
    window(database, home, time(9), time(9, 30), weekday=0)
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    now = [monday + timedelta(hours=1)]
    job = VisitRecordsJob(database, NoticeBus(), clock=lambda: now[0])
    assert job.run() == 1  # first Monday: missed
    with database.session() as s:
        (alert,) = open_alerts(s, kind=AlertKind.CARER_NON_ARRIVAL)
        acknowledge_alert(s, alert.id, by=f"person:{home['officer']}", at=now[0])
    ring(database, home, monday + timedelta(days=7, minutes=2))  # second Monday: on time
    now[0] = monday + timedelta(days=7, minutes=10)
    assert job.run() == 0
    with database.read_session() as s:
        assert open_alerts(s, kind=AlertKind.CARER_NON_ARRIVAL) == []
    now[0] = monday + timedelta(days=14, hours=1)  # third Monday: missed, a fresh alert
    assert job.run() == 1
    with database.read_session() as s:
        (fresh,) = open_alerts(s, kind=AlertKind.CARER_NON_ARRIVAL)
    assert (fresh.id != alert.id, fresh.status.value) == (True, "raised")


def test_a_restarted_job_plans_each_occurrence_once(
    database: Database, home: dict[str, Any]
) -> None:
    window(database, home, time(9), time(9, 30), weekday=0)
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    bus = NoticeBus()
    for days in (0, 0, 7, 7, 14):  # two "processes" per week, one after a restart
        now = monday + timedelta(days=days, hours=1)
        VisitRecordsJob(database, bus, clock=lambda now=now: now).run()
    with database.read_session() as s:
        got = records_between(s, home["home"], T0, monday + timedelta(days=20))
    assert [r.planned_start for r in got] == [monday + timedelta(days=d) for d in (0, 7, 14)]


# -- the rules themselves, event by event -------------------------------------------------
NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return NINE + timedelta(minutes=minutes)


def visit(events: list[DoorEvent], now_min: float = 60) -> Any:
    return derive(
        planned_start=NINE,
        planned_end=at(30),
        tolerance=timedelta(minutes=15),
        events=events,
        check_ins=[],
        now=at(now_min),
        overrun=OVERRUN,
    )


def unlocked(minutes: float, command: str | None = "cmd-1") -> DoorEvent:
    return DoorEvent("lock_changed", at(minutes), "d", lock="released", command_id=command)


def engaged(minutes: float) -> DoorEvent:
    return DoorEvent("lock_changed", at(minutes), "d", lock="engaged")


def opened(minutes: float) -> DoorEvent:
    return DoorEvent("door_opened", at(minutes), "d")


def closed(minutes: float) -> DoorEvent:
    return DoorEvent("door_closed", at(minutes), "d")


RANG = DoorEvent("ring", at(2), "d")


def test_entry_and_departure_and_duration() -> None:
    events = [RANG, unlocked(3), opened(3.1), engaged(3.2), closed(3.3), opened(25), closed(25.2)]
    d = visit(events)
    assert d.status is VisitStatus.COMPLETED
    assert (d.entry_at, d.entry_command_id) == (at(3.1), "cmd-1")
    assert d.departure_at == at(25.2)
    assert d.duration_s == int((at(25.2) - at(3.1)).total_seconds())
    assert d.final is True


def test_no_entry_without_an_acknowledged_unlock_nor_an_opening_soon_after() -> None:
    assert visit([RANG, unlocked(3, command=None), opened(3.1)]).status is VisitStatus.ARRIVED
    assert visit([RANG, unlocked(3), opened(4.5)]).status is VisitStatus.ARRIVED  # > 1 min
    assert visit([unlocked(1), opened(1.1), RANG]).status is VisitStatus.ARRIVED  # before arrival


def test_still_inside_until_the_door_opens_closes_and_is_locked() -> None:
    inside = [RANG, unlocked(3), opened(3.1), engaged(3.2), closed(3.3)]
    assert visit(inside).status is VisitStatus.ENTERED
    assert visit([*inside, opened(25)]).status is VisitStatus.ENTERED  # door open now
    left_unlocked = [RANG, unlocked(3), opened(3.1), closed(3.3), opened(25), closed(25.2)]
    assert visit(left_unlocked).status is VisitStatus.ENTERED  # never locked again
    relocked_later = [*left_unlocked, engaged(26)]
    assert visit(relocked_later).departure_at == at(25.2)  # locked within two minutes
