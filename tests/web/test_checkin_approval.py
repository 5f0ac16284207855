"""A carer's check-in against the home's policy, through the API, a real hub, broker and door:
family approval (asked by a notification, answered with a fresh code, unlocking through the
normal command path) and the owner's per-carer auto-unlock (audited as automatic)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hub.audit import entries
from hub.bus import Notice
from hub.storage import commands_of
from hub.storage.models_registry import Role
from hub.storage.visit_records import get_approval
from protocol import utcnow
from tests.web.conftest import Web, log_in, make_person, wait_online
from tests.web.test_care_routes import window_around


@pytest.fixture(scope="module")
def home(web: Web) -> dict[str, Any]:
    rig = web.rig
    device = rig.add_device()
    rig.agent(device)
    wait_online(rig, device)
    people = {
        "owner": make_person(web, "ap_owner", Role.FAMILY_OWNER, rig.home),
        "member": web.rig.family,  # anna, a family member with the unlock right
        "asking": make_person(web, "ap_asking", Role.CARER, rig.home),
        "auto": make_person(web, "ap_auto", Role.CARER, rig.home),
        "plain": make_person(web, "ap_plain", Role.CARER, rig.home),
    }
    return {"device": device, **people}


def visit_now(web: Web, carer: str) -> str:
    client, csrf = log_in(web, "ap_owner")
    body = {
        "carer": carer,
        "agency": "Helping Hands",
        "tolerance_min": 10,
        **window_around(utcnow(), timedelta(minutes=30), timedelta(hours=3)),
    }
    r = client.post(f"/api/homes/{web.rig.home}/visits", headers=csrf, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["window_id"])


def unlocks(web: Web, device: str) -> list[Any]:
    with web.rig.db.read_session() as s:
        return [c for c in commands_of(s, device) if c.action == "unlock"]


def audit(web: Web, action: str) -> list[Any]:
    with web.rig.db.read_session() as s:
        return [e for e in entries(s) if e.action == action]


def heard(sub: Any, kind: str) -> list[Notice]:
    out = []
    while (n := sub.get(0.2)) is not None:
        if n.kind == kind:
            out.append(n)
    return out


def test_only_the_owner_sets_the_policy_and_it_is_audited(web: Web, home: dict[str, Any]) -> None:
    path = f"/api/homes/{web.rig.home}/check-in-policy"
    member, member_csrf = log_in(web, "anna")
    r = member.put(path, headers=member_csrf, json={"family_approves": True})
    assert r.status_code == 403
    r = member.put(
        f"/api/homes/{web.rig.home}/carers/{home['auto']}/auto-unlock", headers=member_csrf
    )
    assert r.status_code == 403
    owner, csrf = log_in(web, "ap_owner")
    assert owner.get(path).json() == {"family_approves": False, "auto_unlock": []}
    r = owner.put(f"/api/homes/{web.rig.home}/carers/{web.rig.family}/auto-unlock", headers=csrf)
    assert r.status_code == 404  # not a carer of the home
    before = len(audit(web, "check_in_policy_changed"))
    assert owner.put(path, headers=csrf, json={"family_approves": True}).status_code == 200
    assert owner.put(path, headers=csrf, json={"family_approves": True}).status_code == 200
    assert len(audit(web, "check_in_policy_changed")) == before + 1  # a change, not a repeat
    assert owner.get(path).json()["family_approves"] is True


def test_check_in_asks_the_family_and_an_approval_unlocks_with_a_fresh_code(
    web: Web, home: dict[str, Any]
) -> None:
    window = visit_now(web, home["asking"])
    owner, csrf = log_in(web, "ap_owner")
    r = owner.put(
        f"/api/homes/{web.rig.home}/check-in-policy", headers=csrf, json={"family_approves": True}
    )
    assert r.status_code == 200
    sub = web.rig.hub.bus.subscribe()
    before = len(unlocks(web, home["device"]))
    carer, carer_csrf = log_in(web, "ap_asking")
    r = carer.post(f"/api/visits/{window}/check-in", headers=carer_csrf)
    assert r.status_code == 201, r.text
    assert r.json()["then"] == "approval_requested"
    (notice,) = [n for n in heard(sub, "notify") if n.data["message_kind"] != "checkin"]
    sub.close()
    data = notice.data
    assert data["message_kind"] == "checkin_approval_request"
    assert set(data["to"]) == {home["owner"], home["member"]}
    approval = data["extra"]["approval_id"]
    assert data["url"] == f"/homes/{web.rig.home}?approval={approval}"
    assert "Ap_Asking (Helping Hands) checked in" in data["body"]
    assert len(unlocks(web, home["device"])) == before  # asking never unlocks anything

    member, member_csrf = log_in(web, "anna")
    (pending,) = member.get(f"/api/homes/{web.rig.home}/check-in-approvals").json()
    assert (pending["approval_id"], pending["name"]) == (approval, "Ap_Asking")
    path = f"/api/check-in-approvals/{approval}/approve"
    r = member.post(path, headers=member_csrf)
    assert r.status_code == 403
    assert "step up" in r.json()["detail"]
    r = member.post(path, headers=member_csrf, json={"totp": "000000"})
    assert r.status_code == 401  # as for any unlock: the wrong code is refused
    assert len(unlocks(web, home["device"])) == before  # a wrong code moves nothing
    with web.rig.db.read_session() as s:
        assert get_approval(s, approval).status.value == "pending"

    code = web.clock.code(web.totp["anna"])
    r = member.post(path, headers=member_csrf, json={"totp": code})
    assert r.status_code == 202, r.text
    command = r.json()["command_id"]
    assert web.rig.hub.commands.wait(command, timeout=5) == "acknowledged"
    with web.rig.db.read_session() as s:
        row = get_approval(s, approval)
    assert (row.status.value, row.decided_by, row.command_id) == (
        "approved",
        home["member"],
        command,
    )
    (approved,) = [e for e in audit(web, "check_in_approved") if e.details["approval"] == approval]
    assert approved.actor == f"person:{home['member']}"
    requested = [e for e in audit(web, "unlock_requested") if f"command:{command}" in e.subjects]
    assert [e.actor for e in requested] == [f"person:{home['member']}"]
    assert "automatic" not in requested[0].details
    # Once answered, it is answered.
    r = member.post(path, headers=member_csrf, json={"totp": web.clock.code(web.totp["anna"])})
    assert r.status_code == 409
    assert member.get(f"/api/homes/{web.rig.home}/check-in-approvals").json() == []
    # A stranger to the home can neither see nor answer it.
    other, other_csrf = log_in(web, "stranger", step_up=True)
    assert other.post(path, headers=other_csrf).status_code == 403


def test_auto_unlock_only_for_the_carer_the_owner_enabled_and_audited_as_automatic(
    web: Web, home: dict[str, Any]
) -> None:
    owner, csrf = log_in(web, "ap_owner")
    r = owner.put(
        f"/api/homes/{web.rig.home}/check-in-policy", headers=csrf, json={"family_approves": False}
    )
    assert r.status_code == 200
    plain_window = visit_now(web, home["plain"])
    before = len(unlocks(web, home["device"]))
    plain, plain_csrf = log_in(web, "ap_plain")
    r = plain.post(f"/api/visits/{plain_window}/check-in", headers=plain_csrf)
    assert (r.status_code, r.json()["then"]) == (201, "none")
    assert len(unlocks(web, home["device"])) == before  # not enabled: never unlocks

    auto_path = f"/api/homes/{web.rig.home}/carers/{home['auto']}/auto-unlock"
    assert owner.put(auto_path, headers=csrf).status_code == 200
    (enabled,) = [
        e for e in audit(web, "auto_unlock_enabled") if f"person:{home['auto']}" in e.subjects
    ]
    assert enabled.actor == f"person:{home['owner']}"
    window = visit_now(web, home["auto"])
    carer, carer_csrf = log_in(web, "ap_auto")
    r = carer.post(f"/api/visits/{window}/check-in", headers=carer_csrf)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["then"] == "auto_unlock"
    command = answer["command_id"]
    assert web.rig.hub.commands.wait(command, timeout=5) == "acknowledged"
    (auto,) = [e for e in audit(web, "auto_unlocked") if f"visit:{window}" in e.subjects]
    assert auto.actor == f"person:{home['auto']}"
    assert auto.details["enabled_by"] == home["owner"]
    (requested,) = [e for e in audit(web, "unlock_requested") if f"command:{command}" in e.subjects]
    assert requested.actor == f"person:{home['auto']}"
    assert requested.details["automatic"] == "check_in"
    # The auto-unlock is no standing right: the carer still may not unlock by hand.
    r = carer.post(f"/api/doors/{home['device']}/unlock", headers=carer_csrf)
    assert r.status_code == 403

    # Switched off again: the next check-in (a new visit) unlocks nothing.
    assert owner.delete(auto_path, headers=csrf).status_code == 200
    assert audit(web, "auto_unlock_disabled")
    again = visit_now(web, home["auto"])
    count = len(unlocks(web, home["device"]))
    r = carer.post(f"/api/visits/{again}/check-in", headers=carer_csrf)
    assert (r.status_code, r.json()["then"]) == (201, "none")
    assert len(unlocks(web, home["device"])) == count
