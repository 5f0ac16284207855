"""Break-glass through the API: a real hub, a simulated door, the real command path.

An officer opens a door in an emergency with a stated reason and a fresh second
factor; the family is told at once; every step is audited; the box ends after 15
minutes; the family owner reviews it later. The expiry test moves the web clock on
for good, so it runs last.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.audit import entries
from hub.break_glass import BOX_S
from hub.bus import Notice, Subscription
from hub.notify.receipts import states
from hub.notify.worker import NotifyWorker
from hub.storage.models_registry import Role
from tests.web.conftest import Web, log_in, make_person, wait_online

REASON = "Pendant alarm pressed, no answer on the phone, paramedics on their way"


@pytest.fixture(scope="module")
def door(web: Web) -> str:
    device = web.rig.add_device()
    web.rig.agent(device)
    wait_online(web.rig, device)
    return device


@pytest.fixture(scope="module")
def people(web: Web) -> dict[str, str]:
    return {
        "owner": make_person(web, "bg-owner", Role.FAMILY_OWNER, web.rig.home),
        "officer2": make_person(web, "bg-officer2", Role.TELECARE_OFFICER, web.rig.home),
        "admin": make_person(web, "bg-admin", Role.ADMIN, web.rig.home),
    }


@pytest.fixture(scope="module")
def opened(web: Web, door: str, people: dict[str, str]) -> dict:
    """One break-glass opened by the officer (with a code in the request)."""
    sub = web.rig.hub.bus.subscribe()
    officer, csrf = log_in(web, "officer")
    code = web.clock.code(web.totp["officer"])
    r = officer.post(
        f"/api/doors/{door}/break-glass", headers=csrf, json={"reason": REASON, "totp": code}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return {"body": body, "told": _told(sub)}


def _told(sub: Subscription) -> list[Notice]:
    out = [n for n in iter(lambda: sub.get(timeout=0.3), None) if n.kind == "notify"]
    sub.close()
    return out


def _audited(web: Web, action: str) -> list:
    with web.rig.db.read_session() as s:
        return [e for e in entries(s) if e.action == action]


def test_a_reason_of_some_substance_is_required(web, door, people):
    officer, csrf = log_in(web, "officer", step_up=True)
    url = f"/api/doors/{door}/break-glass"
    assert officer.post(url, headers=csrf, json={}).status_code == 422
    r = officer.post(url, headers=csrf, json={"reason": "   emergency    "})
    assert r.status_code == 422
    assert "20" in r.text
    assert _audited(web, "break_glass") == []


def test_a_fresh_second_factor_is_required(web, door, people):
    officer, csrf = log_in(web, "officer")  # no step-up
    r = officer.post(f"/api/doors/{door}/break-glass", headers=csrf, json={"reason": REASON})
    assert r.status_code == 403
    assert "step up" in r.text
    assert _audited(web, "break_glass") == []


def test_only_officers_may_break_the_glass(web, door, people):
    anna, csrf = log_in(web, "anna", step_up=True)
    r = anna.post(f"/api/doors/{door}/break-glass", headers=csrf, json={"reason": REASON})
    assert r.status_code == 403
    stranger, csrf = log_in(web, "stranger", step_up=True)
    r = stranger.post(f"/api/doors/{door}/break-glass", headers=csrf, json={"reason": REASON})
    assert r.status_code == 403


def test_the_door_opens_the_family_is_told_and_it_is_audited(web, door, people, opened):
    box = opened["body"]["break_glass"]
    unlock = opened["body"]["unlock"]
    assert box["active"] is True
    assert box["reason"] == REASON
    assert unlock["status"] == "sent"
    assert web.rig.hub.commands.wait(unlock["command_id"], timeout=10) == "acknowledged"

    [told] = [n for n in opened["told"] if n.data["message_kind"] == "break_glass"]
    assert set(told.data["to"]) == {web.rig.family, people["owner"]}
    assert told.data["safety"] is True
    assert told.data["key"] == f"break_glass:{box['id']}"
    assert REASON in told.data["body"]
    # The notification layer takes it: each family member is a recipient of that key.
    worker = NotifyWorker(web.rig.db, web.rig.hub.bus, [])
    worker.jobs_for(told)
    with web.rig.db.read_session() as s:
        assert set(states(s, told.data["key"])) == {web.rig.family, people["owner"]}

    [entry] = _audited(web, "break_glass")
    assert entry.actor == f"person:{web.rig.telecare}"
    assert f"break_glass:{box['id']}" in entry.subjects
    assert REASON not in str(entry.details), "the reason stays out of the chain"
    asked = _audited(web, "unlock_requested")
    assert asked[-1].details["break_glass"] == box["id"]


def test_more_unlocks_within_the_box_by_its_officer_only(web, door, people, opened):
    box = opened["body"]["break_glass"]
    other, csrf = log_in(web, "bg-officer2", step_up=True)
    r = other.post(f"/api/break-glass/{box['id']}/unlock", headers=csrf)
    assert r.status_code == 403
    officer, csrf = log_in(web, "officer", step_up=True)
    r = officer.post(f"/api/break-glass/{box['id']}/unlock", headers=csrf)
    assert r.status_code == 202, r.text
    assert web.rig.hub.commands.wait(r.json()["command_id"], timeout=10) == "acknowledged"
    owner, _ = log_in(web, "bg-owner")
    [listed] = owner.get(f"/api/homes/{web.rig.home}/break-glass").json()
    assert listed["unlocks"] == 2


def test_the_family_owner_reviews_it_once_with_a_note(web, door, people, opened):
    box = opened["body"]["break_glass"]
    anna, csrf = log_in(web, "anna")
    assert anna.get(f"/api/homes/{web.rig.home}/break-glass").status_code == 200  # reads audit
    r = anna.post(f"/api/break-glass/{box['id']}/review", headers=csrf, json={"note": "ok"})
    assert r.status_code == 403
    stranger, csrf = log_in(web, "stranger")
    assert stranger.get(f"/api/homes/{web.rig.home}/break-glass").status_code == 403

    owner, csrf = log_in(web, "bg-owner")
    [pending] = owner.get(
        f"/api/homes/{web.rig.home}/break-glass", params={"unreviewed": "true"}
    ).json()
    assert pending["id"] == box["id"]
    note = {"note": "Spoke to the officer: Mum had fallen; paramedics confirm."}
    r = owner.post(f"/api/break-glass/{box['id']}/review", headers=csrf, json=note)
    assert r.status_code == 200
    assert (r.json()["reviewed_by"], r.json()["review_note"]) == (people["owner"], note["note"])
    again = owner.post(f"/api/break-glass/{box['id']}/review", headers=csrf, json=note)
    assert again.status_code == 409
    assert (
        owner.get(f"/api/homes/{web.rig.home}/break-glass", params={"unreviewed": "true"}).json()
        == []
    )
    [reviewed] = _audited(web, "break_glass_reviewed")
    assert reviewed.actor == f"person:{people['owner']}"
    assert reviewed.details == {"unlocks": 2}


def test_zz_the_box_ends_after_its_time(web, door, people, opened):
    box = opened["body"]["break_glass"]
    web.clock.offset += timedelta(seconds=BOX_S + 60)
    officer, csrf = log_in(web, "officer", step_up=True)
    r = officer.post(f"/api/break-glass/{box['id']}/unlock", headers=csrf)
    assert r.status_code == 403
    assert "ended" in r.text
    owner, _ = log_in(web, "bg-owner")
    [listed] = owner.get(f"/api/homes/{web.rig.home}/break-glass").json()
    assert (listed["active"], listed["unlocks"]) == (False, 2)
