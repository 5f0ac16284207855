"""Who is expected when: windows in the home's time zone, tolerance, midnight, daylight
saving, one-off dates; check-in rules; erasing a carer takes their schedule with them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from hub.audit import entries
from hub.errors import InvalidValue
from hub.storage import Database, add_membership, create_home, create_person, erase_person
from hub.storage.models_registry import Role
from hub.storage.visits import add_window, windows_of_home
from hub.visits import CheckInRefused, check_in, expected_at

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def home(database: Database) -> dict[str, str]:
    with database.session() as s:
        home = create_home(s, name="Flat", timezone="Europe/London", at=T0).id
        carer = create_person(s, display_name="Bob", at=T0).id
        add_membership(s, person_id=carer, home_id=home, role=Role.CARER, at=T0)
        family = create_person(s, display_name="Anna", at=T0).id
        add_membership(s, person_id=family, home_id=home, role=Role.FAMILY_OWNER, at=T0)
    return {"home": home, "carer": carer, "family": family}


def _window(db: Database, ids: dict[str, str], start: time, end: time, **when: object) -> str:
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
            **when,  # type: ignore[arg-type]
        ).id


def _expected(db: Database, home: str, at: datetime) -> list[str]:
    with db.read_session() as s:
        return [e.window_id for e in expected_at(s, home, at)]


def test_weekly_window_matches_within_tolerance_only(
    database: Database, home: dict[str, str]
) -> None:
    w = _window(database, home, time(9), time(9, 30), weekday=0)
    monday_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # London is on UTC in November
    assert _expected(database, home["home"], monday_9) == [w]
    assert _expected(database, home["home"], monday_9 - timedelta(minutes=15)) == [w]
    assert _expected(database, home["home"], monday_9 - timedelta(minutes=16)) == []
    assert _expected(database, home["home"], monday_9 + timedelta(minutes=45)) == [w]
    assert _expected(database, home["home"], monday_9 + timedelta(minutes=46)) == []
    assert _expected(database, home["home"], monday_9 + timedelta(days=1)) == []
    assert _expected(database, home["home"], monday_9 + timedelta(days=7)) == [w]


def test_wall_clock_time_holds_across_daylight_saving(
    database: Database, home: dict[str, str]
) -> None:
    w = _window(database, home, time(9), time(9, 30), weekday=0)
    summer_9_local = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # a Monday, BST = UTC+1
    assert _expected(database, home["home"], summer_9_local) == [w]
    assert _expected(database, home["home"], summer_9_local + timedelta(hours=1)) == []
    with database.read_session() as s:
        (e,) = expected_at(s, home["home"], summer_9_local)
    assert (e.start.hour, e.start.utcoffset()) == (9, timedelta(hours=1))


def test_a_night_visit_runs_past_midnight(database: Database, home: dict[str, str]) -> None:
    w = _window(database, home, time(22), time(1), on_date=date(2026, 12, 24))
    assert _expected(database, home["home"], datetime(2026, 12, 24, 23, 30, tzinfo=UTC)) == [w]
    assert _expected(database, home["home"], datetime(2026, 12, 25, 0, 45, tzinfo=UTC)) == [w]
    assert _expected(database, home["home"], datetime(2026, 12, 25, 22, 30, tzinfo=UTC)) == []


def test_bad_windows_are_refused(database: Database, home: dict[str, str]) -> None:
    with pytest.raises(InvalidValue, match="not both"):
        _window(database, home, time(9), time(10), weekday=0, on_date=date(2026, 12, 1))
    with pytest.raises(InvalidValue, match="empty"):
        _window(database, home, time(9), time(9), weekday=0)
    with database.session() as s:
        stranger = create_person(s, display_name="X", at=T0).id
    with pytest.raises(InvalidValue, match="not a carer"):
        _window(database, {**home, "carer": stranger}, time(9), time(10), weekday=0)


def test_check_in_rules_and_audit(database: Database, home: dict[str, str]) -> None:
    w = _window(database, home, time(9), time(9, 30), weekday=0)
    at = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
    with database.session() as s, pytest.raises(CheckInRefused, match="someone else's"):
        check_in(s, w, home["family"], at=at)
    with database.session() as s, pytest.raises(CheckInRefused, match="outside your visit"):
        check_in(s, w, home["carer"], at=at + timedelta(hours=2))
    with database.session() as s:
        first = check_in(s, w, home["carer"], at=at)
    with database.session() as s:
        again = check_in(s, w, home["carer"], at=at + timedelta(minutes=3))
    assert first.new
    assert not again.new
    assert again.at == first.at
    with database.read_session() as s:
        (e,) = expected_at(s, home["home"], at)
        checked = [x for x in entries(s) if x.action == "checked_in"]
    assert e.checked_in_at == at
    assert len(checked) == 1
    assert f"visit:{w}" in checked[0].subjects


def test_erasing_a_carer_removes_their_schedule(database: Database, home: dict[str, str]) -> None:
    w = _window(database, home, time(9), time(9, 30), weekday=0)
    with database.session() as s:
        check_in(s, w, home["carer"], at=datetime(2026, 11, 23, 9, 5, tzinfo=UTC))
    with database.session() as s:
        assert erase_person(s, home["carer"])
    with database.read_session() as s:
        assert windows_of_home(s, home["home"]) == []
