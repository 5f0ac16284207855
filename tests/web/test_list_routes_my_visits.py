"""GET /api/my/visits lists a carer's windows still to come: a one-off visit whose day
(the home's day) is over drops off, so the carer's page does not grow forever."""

from __future__ import annotations

from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from hub.storage import get_home
from hub.storage.models_registry import Role
from hub.storage.visits import add_window
from protocol import utcnow
from tests.web.conftest import Web, log_in, make_person


def _window(web: Web, carer: str, **when: object) -> str:
    with web.rig.db.session() as s:
        return add_window(
            s,
            home_id=web.rig.home,
            carer_id=carer,
            agency="Test agency",
            start=time(9),
            end=time(9, 30),
            tolerance_min=15,
            created_by=web.rig.family,
            at=utcnow(),
            **when,  # type: ignore[arg-type]
        ).id


def test_past_one_off_visits_drop_off(web: Web) -> None:
    carer = make_person(web, "mv_carer", Role.CARER, web.rig.home)
    with web.rig.db.read_session() as s:
        zone = ZoneInfo(get_home(s, web.rig.home).timezone)
    today: date = web.clock().astimezone(zone).date()
    past = [_window(web, carer, on_date=today - timedelta(days=d)) for d in (2, 40, 400)]
    coming = _window(web, carer, on_date=today + timedelta(days=3))
    weekly = _window(web, carer, weekday=today.weekday())

    client, _ = log_in(web, "mv_carer")
    r = client.get("/api/my/visits")
    assert r.status_code == 200, r.text
    shown = {v["window_id"] for v in r.json()}
    assert {coming, weekly} <= shown
    assert not shown & set(past)
