"""Consent reviews fall due by the home's own date, not UTC's: a review due "today" in
a home far from Greenwich is due (and not yet overdue) on that home's today, in the
record's ``review_due`` and in GET /api/consent/reviews-due alike."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from hub.storage.homes import create_home
from hub.storage.models_registry import Role
from protocol import utcnow
from tests.web.conftest import Web, log_in, make_person

AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14, UTC-11


def test_review_due_today_by_the_home_date(web: Web) -> None:
    now = web.clock()
    # One of the two is on another date than UTC at any moment (+14 from 10:00, -11 to 11:00).
    zone = AHEAD if now.hour >= 10 else BEHIND
    today = now.astimezone(ZoneInfo(zone)).date()
    assert today != now.date()
    with web.rig.db.session() as s:
        home = create_home(s, name="Far away", timezone=zone, at=utcnow()).id
    make_person(web, "farowner", Role.FAMILY_OWNER, home)
    client, csrf = log_in(web, "farowner")
    body = {
        "basis": "best_interests",
        "decided_by": "J. Patel, social worker",
        "scope": ["snapshots"],
        "consented_on": (today - timedelta(days=365)).isoformat(),
        "review_on": today.isoformat(),  # due today, the home's today
    }
    r = client.post(f"/api/homes/{home}/consent", headers=csrf, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["review_due"] is True
    assert client.get(f"/api/homes/{home}/consent").json()["current"]["review_due"] is True

    due = client.get("/api/consent/reviews-due", params={"within_days": 0}).json()
    assert [(d["home"], d["overdue"]) for d in due] == [(home, False)]
