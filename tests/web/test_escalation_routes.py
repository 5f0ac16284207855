"""Escalation through the API: the owner's policy, following a ring, and an officer's
ring-scoped access (that ring's picture, and unlock only where the home allows it).

A real hub (broker, database, simulated doors with cameras) behind the web app. The
hub's clock (``rig.clock``) decides the steps; the web app's clock (``web.clock``)
decides sessions and time boxes. The time-box test moves the web clock on for good, so
it runs last.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.audit import entries
from hub.bus import Notice, Subscription
from hub.escalation import ACCESS_S
from hub.storage.models_care import RingEscalation
from hub.storage.models_registry import Role
from tests.web.conftest import Web, log_in, make_person, wait_online


@pytest.fixture(scope="module")
def people(web: Web) -> dict[str, str]:
    return {
        "owner": make_person(web, "esc-owner", Role.FAMILY_OWNER, web.rig.home),
        "bea": make_person(web, "esc-bea", Role.FAMILY_MEMBER, web.rig.home),
    }


@pytest.fixture(autouse=True)
def hub_time(web: Web):
    web.rig.clock.advance_to(0)
    yield
    web.rig.clock.advance_to(0)  # later rings are not born overdue


def _policy(web: Web, **body: Any) -> dict[str, Any]:
    client, csrf = log_in(web, "esc-owner")
    r = client.put(f"/api/homes/{web.rig.home}/escalation", headers=csrf, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _door(web: Web) -> tuple[str, Any]:
    device = web.rig.add_device()
    _agent, board = web.rig.agent(device)
    wait_online(web.rig, device)
    return device, board


def _escalations(web: Web, device: str) -> list[RingEscalation]:
    with web.rig.db.read_session() as s:
        stmt = select(RingEscalation).where(RingEscalation.device_id == device)
        return list(s.scalars(stmt.order_by(RingEscalation.ring_at.desc())))


_last_press: dict[str, float] = {}  # door -> when the test last pressed its bell


def _ring(web: Web, device: str, board: Any) -> RingEscalation:
    before = {e.id for e in _escalations(web, device)}
    # The door ignores a press within its cooldown (0.5 s in the rig) of the last one: a
    # second ring at the same door must wait it out, or the door (rightly) drops it.
    wait = _last_press.get(device, -1.0) + 0.6 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    board.ring()
    _last_press[device] = time.monotonic()
    found: list[RingEscalation] = []

    def started() -> bool:
        found[:] = [e for e in _escalations(web, device) if e.id not in before]
        return bool(found) and found[0].snapshot_id is not None

    assert web.rig.wait_until(started), "the ring never started an escalation with its picture"
    return found[0]


def _to_telecare(web: Web, board: Any, device: str) -> RingEscalation:
    """A ring whose escalation has reached the officer (no contacts: telecare is step 1)."""
    esc = _ring(web, device, board)
    web.rig.clock.advance_to(70)
    web.rig.hub.escalation.tick()
    web.rig.clock.advance_to(0)
    return esc


def _told(sub: Subscription) -> list[Notice]:
    return [n for n in iter(lambda: sub.get(timeout=0.3), None) if n.kind == "notify"]


def test_the_owner_sets_the_policy_others_read_it_and_it_is_audited(web, people):
    anna, csrf = log_in(web, "anna")
    r = anna.get(f"/api/homes/{web.rig.home}/escalation")
    assert r.status_code == 200
    assert r.json() == {
        "contacts": [],
        "step_timeout_s": 60,
        "include_telecare": False,
        "telecare_may_unlock": False,
    }
    wanted = {"contacts": [people["bea"]], "step_timeout_s": 90, "include_telecare": True}
    r = anna.put(f"/api/homes/{web.rig.home}/escalation", headers=csrf, json=wanted)
    assert r.status_code == 403, "a family member is not the owner"

    assert _policy(web, **wanted)["contacts"] == [people["bea"]]
    owner, csrf = log_in(web, "esc-owner")
    url = f"/api/homes/{web.rig.home}/escalation"
    r = owner.put(url, headers=csrf, json={"contacts": [web.rig.stranger]})
    assert r.status_code == 422
    assert "not family" in r.text
    r = owner.put(url, headers=csrf, json={"telecare_may_unlock": True})
    assert r.status_code == 422, "unlock by telecare needs telecare in the escalation"
    r = owner.put(url, headers=csrf, json={"step_timeout_s": 5})
    assert r.status_code == 422
    with web.rig.db.read_session() as s:
        changed = [e for e in entries(s) if e.action == "escalation_policy_changed"]
    assert changed[-1].actor == f"person:{people['owner']}"
    assert f"person:{people['bea']}" in changed[-1].subjects


def test_the_family_follows_the_steps_and_can_say_they_are_dealing_with_it(web, people):
    _policy(web, contacts=[people["bea"]], step_timeout_s=60)
    device, board = _door(web)
    esc = _ring(web, device, board)
    anna, csrf = log_in(web, "anna")
    r = anna.get(f"/api/rings/{esc.event_id}/escalation")
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["steps"]) == ("running", [])

    web.rig.clock.advance_to(70)
    web.rig.hub.escalation.tick()
    [step] = anna.get(f"/api/rings/{esc.event_id}/escalation").json()["steps"]
    assert (step["kind"], step["to"]) == ("person", [people["bea"]])
    assert "receipts" in step  # the notification layer's states (None until it has any)

    stranger, _ = log_in(web, "stranger")
    assert stranger.get(f"/api/rings/{esc.event_id}/escalation").status_code == 403
    officer, ocsrf = log_in(web, "officer")
    r = officer.post(f"/api/escalations/{esc.id}/acknowledge", headers=ocsrf)
    assert r.status_code == 403, "this ring has not reached telecare"

    r = anna.post(f"/api/escalations/{esc.id}/acknowledge", headers=csrf)
    assert (r.status_code, r.json()) == (200, {"stopped": True})
    body = anna.get(f"/api/rings/{esc.event_id}/escalation").json()
    assert (body["status"], body["answered_by"]) == ("answered", f"person:{web.rig.family}")
    with web.rig.db.read_session() as s:
        assert [e for e in entries(s) if e.action == "ring_acknowledged"]


def test_an_officer_reached_sees_that_rings_picture_and_no_other(web, people):
    _policy(web, contacts=[], step_timeout_s=60, include_telecare=True)
    reached_door, board = _door(web)
    other_door, other_board = _door(web)
    sub = web.rig.hub.bus.subscribe()
    reached = _to_telecare(web, board, reached_door)
    other = _ring(web, other_door, other_board)  # rang, not (yet) escalated to telecare

    officer, _ = log_in(web, "officer")
    mine = officer.get("/api/escalations/mine").json()
    assert [m["id"] for m in mine] == [reached.id]
    r = officer.get(f"/api/escalations/{reached.id}/snapshot")
    assert (r.status_code, r.headers["content-type"]) == (200, "image/jpeg")
    assert r.content.startswith(b"\xff\xd8")
    assert officer.get(f"/api/escalations/{other.id}/snapshot").status_code == 403
    assert officer.get(f"/api/snapshots/{other.snapshot_id}").status_code == 403
    assert officer.get(f"/api/snapshots/{reached.snapshot_id}").status_code == 403, (
        "the ring-scoped access is not a standing grant"
    )
    assert officer.get(f"/api/rings/{reached.event_id}/escalation").status_code == 200
    assert officer.get(f"/api/rings/{other.event_id}/escalation").status_code == 403

    with web.rig.db.read_session() as s:
        viewed = [e for e in entries(s) if e.action == "snapshot_viewed"]
    assert viewed[-1].details == {"by_escalation": reached.id}
    assert viewed[-1].actor == f"person:{web.rig.telecare}"
    told = [n for n in _told(sub) if n.data["extra"].get("telecare") == "viewed"]
    assert told
    assert web.rig.family in told[0].data["to"]


def test_an_officer_unlocks_only_where_the_home_allows_it(web, people):
    _policy(web, contacts=[], step_timeout_s=60, include_telecare=True)
    device, board = _door(web)
    esc = _to_telecare(web, board, device)
    officer, csrf = log_in(web, "officer", step_up=True)
    r = officer.post(f"/api/escalations/{esc.id}/unlock", headers=csrf)
    assert r.status_code == 403
    assert "policy" in r.text
    officer.post(f"/api/escalations/{esc.id}/acknowledge", headers=csrf)  # ends this one

    # The policy as it is when the ring comes is the one that counts.
    _policy(web, contacts=[], step_timeout_s=60, include_telecare=True, telecare_may_unlock=True)
    esc = _to_telecare(web, board, device)
    fresh, csrf = log_in(web, "officer")
    r = fresh.post(f"/api/escalations/{esc.id}/unlock", headers=csrf)
    assert r.status_code == 403
    assert "step up" in r.text
    sub = web.rig.hub.bus.subscribe()
    code = web.clock.code(web.totp["officer"])
    r = fresh.post(f"/api/escalations/{esc.id}/unlock", headers=csrf, json={"totp": code})
    assert r.status_code == 202, r.text
    command = r.json()["command_id"]
    assert web.rig.hub.commands.wait(command, timeout=10) == "acknowledged"

    with web.rig.db.read_session() as s:
        asked = [e for e in entries(s) if e.action == "unlock_requested"]
    assert asked[-1].details["by_escalation"] == esc.id
    assert "by_grant" not in asked[-1].details
    told = [n for n in _told(sub) if n.data["extra"].get("telecare") == "unlocked"]
    assert told
    assert told[0].data["message_kind"] == "ring_escalated"
    url = f"/api/rings/{esc.event_id}/escalation"
    answered = lambda: fresh.get(url).json()["status"] == "answered"  # noqa: E731
    assert web.rig.wait_until(answered), "an unlock answers the ring"


def test_zz_the_access_ends_with_its_time_box(web, people):
    _policy(web, contacts=[], step_timeout_s=60, include_telecare=True, telecare_may_unlock=True)
    device, board = _door(web)
    esc = _to_telecare(web, board, device)
    officer, _ = log_in(web, "officer")
    assert officer.get(f"/api/escalations/{esc.id}/snapshot").status_code == 200

    web.clock.offset += timedelta(seconds=ACCESS_S + 60)
    officer, csrf = log_in(web, "officer", step_up=True)
    assert officer.get(f"/api/escalations/{esc.id}/snapshot").status_code == 403
    assert officer.post(f"/api/escalations/{esc.id}/unlock", headers=csrf).status_code == 403
    assert esc.id not in [m["id"] for m in officer.get("/api/escalations/mine").json()]
