"""Notification preferences, "seen" receipts and the admins' failure list, through the
real app: one's own only, validated, audited; admins see failures of their homes only."""

from __future__ import annotations

import pytest

from hub.audit.log import entries
from hub.notify.receipts import states
from hub.notify.route import Draft, row_of
from hub.notify.store import add_recipient, claim_delivery, record_attempt, save_notification
from hub.storage.models_registry import Role
from protocol import utcnow
from tests.web.conftest import Web, log_in, make_person


@pytest.fixture(scope="module")
def people(web: Web) -> dict[str, str]:
    rig = web.rig
    return {
        "npa": make_person(web, "npa", Role.FAMILY_MEMBER, rig.home),
        "npb": make_person(web, "npb", Role.FAMILY_MEMBER, rig.home),
        "npadmin": make_person(web, "npadmin", Role.ADMIN, rig.home),
        "npother": make_person(web, "npother", Role.ADMIN, rig.other_home),
    }


def _notification(web: Web, key: str, home: str, to: list[str], status: str | None) -> None:
    now = utcnow()
    with web.rig.db.session() as s:
        draft = Draft(key, "device_offline", home, "door-np", True, "Offline", "b", "/", "t")
        save_notification(s, row_of(draft, now))
        for person in to:
            add_recipient(
                s,
                key=key,
                person_id=person,
                device_id="door-np",
                kind="device_offline",
                skipped=None,
                at=now,
            )
            if status is not None:
                claim_delivery(
                    s, key=key, person_id=person, channel="govuk_sms", target="phone", at=now
                )
                record_attempt(
                    s,
                    key=key,
                    person_id=person,
                    channel="govuk_sms",
                    target="phone",
                    status=status,
                    attempts=3,
                    error="HTTP 400: ValidationError",
                    at=now,
                )


def test_preferences_are_ones_own_validated_and_audited(web: Web, people: dict[str, str]) -> None:
    a, a_csrf = log_in(web, "npa")
    b, _ = log_in(web, "npb")
    r = a.get("/api/me/notifications")
    assert r.status_code == 200
    assert r.json()["preferences"] == {
        "muted_kinds": [],
        "off_channels": [],
        "quiet_start": None,
        "quiet_end": None,
        "timezone": None,
        "rings_in_quiet_hours": True,
    }
    assert "break_glass" in r.json()["choices"]["safety_kinds"]
    assert "ring" not in r.json()["choices"]["safety_kinds"]
    mine = {
        "muted_kinds": ["checkin"],
        "off_channels": ["govuk_sms"],
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        "timezone": "Europe/London",
        "rings_in_quiet_hours": False,
    }
    assert a.put("/api/me/notifications", json=mine).status_code == 403  # no CSRF header
    r = a.put("/api/me/notifications", json=mine, headers=a_csrf)
    assert r.status_code == 200, r.text
    assert a.get("/api/me/notifications").json()["preferences"] == mine
    assert b.get("/api/me/notifications").json()["preferences"]["muted_kinds"] == []
    for bad, why in (
        ({"muted_kinds": ["device_offline"]}, "safety alert"),
        ({"muted_kinds": ["junk"]}, "unknown kind"),
        ({"off_channels": ["pigeon"]}, "unknown channel"),
        ({"quiet_start": "25:00", "quiet_end": "07:00"}, "24-hour"),
        ({"quiet_start": "22:00"}, "both"),
        ({"person_id": people["npb"]}, "extra"),
    ):
        r = a.put("/api/me/notifications", json=bad, headers=a_csrf)
        assert r.status_code == 422, bad
        assert why in r.text, r.text
    assert a.get("/api/me/notifications").json()["preferences"] == mine
    with web.rig.db.read_session() as s:
        changes = [
            e
            for e in entries(s)
            if e.action == "notify_preferences_changed" and e.actor == f"person:{people['npa']}"
        ]
    assert len(changes) == 1
    assert changes[0].details["after"] == mine


def test_seen_is_only_for_ones_own_notifications(web: Web, people: dict[str, str]) -> None:
    _notification(web, "np:seen:1", web.rig.home, [people["npa"]], "sent")
    a, a_csrf = log_in(web, "npa")
    b, b_csrf = log_in(web, "npb")
    r = b.post("/api/notifications/seen", json={"key": "np:seen:1"}, headers=b_csrf)
    assert r.status_code == 404  # not hers: the same answer as an unknown key
    assert b.get("/api/notifications", params={"key": "np:seen:1"}).status_code == 404
    r = a.get("/api/notifications", params={"key": "np:seen:1"})
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("key", "kind", "home", "title")} == {
        "key": "np:seen:1",
        "kind": "device_offline",
        "home": web.rig.home,
        "title": "Offline",
    }
    r = b.post("/api/notifications/seen", json={"key": "np:nothing"}, headers=b_csrf)
    assert r.status_code == 404
    with web.rig.db.read_session() as s:
        assert states(s, "np:seen:1") == {people["npa"]: "sent"}
    for _ in range(2):  # twice: still 204, audited once
        r = a.post("/api/notifications/seen", json={"key": "np:seen:1"}, headers=a_csrf)
        assert r.status_code == 204
    with web.rig.db.read_session() as s:
        assert states(s, "np:seen:1") == {people["npa"]: "seen"}
        seen = [
            e
            for e in entries(s)
            if e.action == "notification_seen" and e.details.get("key") == "np:seen:1"
        ]
    assert len(seen) == 1


def test_admins_see_failures_of_their_homes_only(web: Web, people: dict[str, str]) -> None:
    rig = web.rig
    _notification(web, "np:fail:home", rig.home, [people["npa"]], "failed")
    _notification(web, "np:fail:other", rig.other_home, [people["npother"]], "failed")
    _notification(web, "np:ok:home", rig.home, [people["npb"]], "sent")
    admin, _ = log_in(web, "npadmin")
    other, _ = log_in(web, "npother")
    family, _ = log_in(web, "npa")
    assert family.get("/api/admin/notifications/failures").status_code == 403
    rows = admin.get("/api/admin/notifications/failures").json()
    keys = {r["key"] for r in rows}
    assert "np:fail:home" in keys
    assert not keys & {"np:fail:other", "np:ok:home"}
    (row,) = [r for r in rows if r["key"] == "np:fail:home"]
    assert row | {"id": 0, "at": ""} == {
        "id": 0,
        "key": "np:fail:home",
        "kind": "device_offline",
        "home": rig.home,
        "person_id": people["npa"],
        "person": "Npa",
        "channel": "govuk_sms",
        "status": "failed",
        "attempts": 3,
        "error": "HTTP 400: ValidationError",
        "at": "",
    }
    assert {r["key"] for r in other.get("/api/admin/notifications/failures").json()} >= {
        "np:fail:other"
    }
    assert "np:fail:home" not in {
        r["key"] for r in other.get("/api/admin/notifications/failures").json()
    }
