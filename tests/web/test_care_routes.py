"""The care side of the API against a real hub: visit windows, who is expected, a carer's
check-in (and its notice on the live stream), invitations, the home's audit log, live view."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from hub.storage.models_registry import Role
from protocol import utcnow
from tests.web.conftest import PASSWORD, Web, log_in, make_person, wait_online

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def care(web: Web) -> dict[str, str]:
    rig = web.rig
    return {
        "owner": make_person(web, "c_owner", Role.FAMILY_OWNER, rig.home),
        "carer": make_person(web, "c_carer", Role.CARER, rig.home),
        "carer2": make_person(web, "c_carer2", Role.CARER, rig.home),
        "far_carer": make_person(web, "c_far", Role.CARER, rig.other_home),
    }


def window_around(at: datetime, before: timedelta, after: timedelta) -> dict[str, Any]:
    """A weekly window from ``at - before`` to ``at + after`` in the home's (London) time."""
    start = (at - before).astimezone(LONDON)
    end = (at + after).astimezone(LONDON)
    return {"weekday": start.weekday(), "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}


def add_window(web: Web, carer: str, **window: Any) -> str:
    client, csrf = log_in(web, "c_owner")
    body = {"carer": carer, "agency": "Helping Hands", "tolerance_min": 10, **window}
    r = client.post(f"/api/homes/{web.rig.home}/visits", headers=csrf, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["window_id"])


@pytest.fixture(scope="module")
def current_window(web: Web, care: dict[str, str]) -> str:
    # Wide: the test clock moves 30 s per login, the ingest clock does not.
    return add_window(
        web, care["carer"], **window_around(utcnow(), timedelta(minutes=30), timedelta(hours=2))
    )


def test_owner_manages_windows_and_family_sees_who_is_expected(
    web: Web, care: dict[str, str], current_window: str
) -> None:
    rig = web.rig
    owner, _ = log_in(web, "c_owner")
    carers = owner.get(f"/api/homes/{rig.home}/carers").json()
    assert {c["person_id"] for c in carers} >= {care["carer"], care["carer2"]}
    assert care["far_carer"] not in {c["person_id"] for c in carers}
    anna, _ = log_in(web, "anna")
    windows = anna.get(f"/api/homes/{rig.home}/visits").json()
    mine = next(w for w in windows if w["window_id"] == current_window)
    assert mine["carer"] == care["carer"]
    assert mine["name"] == "C_Carer"
    assert mine["date"] is None
    assert mine["tolerance_min"] == 10
    assert len(mine["start"]) == 5
    r = anna.get(f"/api/homes/{rig.home}/expected")
    assert r.status_code == 200
    got = r.json()
    assert got["outside_windows"] is False
    expected = next(e for e in got["expected"] if e["window_id"] == current_window)
    assert expected["agency"] == "Helping Hands"
    assert expected["checked_in_at"] is None
    assert anna.get(f"/api/homes/{rig.other_home}/expected").status_code == 403
    officer, _ = log_in(web, "officer")
    assert officer.get(f"/api/homes/{rig.home}/expected").status_code == 403
    assert officer.get(f"/api/homes/{rig.home}/visits").status_code == 403


def test_bad_windows_are_refused_with_a_reason(web: Web, care: dict[str, str]) -> None:
    client, csrf = log_in(web, "c_owner")
    url = f"/api/homes/{web.rig.home}/visits"
    both = {"carer": care["carer"], "weekday": 1, "date": "2026-12-24", "start": "09:00"}
    r = client.post(url, headers=csrf, json={**both, "end": "09:30"})
    assert r.status_code == 422
    assert "not both" in r.json()["detail"]
    r = client.post(
        url,
        headers=csrf,
        json={"carer": care["far_carer"], "weekday": 1, "start": "09:00", "end": "09:30"},
    )
    assert r.status_code == 422
    assert "not a carer of this home" in r.json()["detail"]
    anna, anna_csrf = log_in(web, "anna")  # a family member may see, not manage
    r = anna.post(
        url,
        headers=anna_csrf,
        json={"carer": care["carer"], "weekday": 1, "start": "09:00", "end": "09:30"},
    )
    assert r.status_code == 403


def test_check_in_inside_the_window_once_and_only_by_its_carer(
    web: Web, care: dict[str, str], current_window: str
) -> None:
    other, other_csrf = log_in(web, "c_carer2")
    r = other.post(f"/api/visits/{current_window}/check-in", headers=other_csrf)
    assert r.status_code == 403
    far, far_csrf = log_in(web, "c_far")
    assert far.post(f"/api/visits/{current_window}/check-in", headers=far_csrf).status_code == 403
    carer, csrf = log_in(web, "c_carer")
    visits = carer.get("/api/my/visits").json()
    assert [v["now"] for v in visits if v["window_id"] == current_window] == [True]
    assert {v["home"] for v in visits} == {web.rig.home}
    r = carer.post(f"/api/visits/{current_window}/check-in", headers=csrf)
    assert r.status_code == 201, r.text
    first = r.json()["checked_in_at"]
    again = carer.post(f"/api/visits/{current_window}/check-in", headers=csrf)
    assert again.status_code == 201
    assert again.json()["checked_in_at"] == first  # the same visit, not a second one
    anna, _ = log_in(web, "anna")
    expected = anna.get(f"/api/homes/{web.rig.home}/expected").json()["expected"]
    assert [e["checked_in_at"] for e in expected if e["window_id"] == current_window] == [first]
    audit = anna.get(f"/api/homes/{web.rig.home}/audit?limit=500").json()
    checked = [e for e in audit if e["action"] == "checked_in"]
    assert len(checked) == 1
    assert checked[0]["actor"] == f"person:{care['carer']}"
    assert checked[0]["actor_name"] == "C_Carer"
    seqs = [e["seq"] for e in audit]
    assert seqs == sorted(seqs, reverse=True)
    assert {"visit_window_added", "login"} & {e["action"] for e in audit} == {"visit_window_added"}


def test_check_in_outside_the_window_is_refused_in_plain_words(
    web: Web, care: dict[str, str]
) -> None:
    later = window_around(utcnow() + timedelta(hours=6), timedelta(0), timedelta(minutes=30))
    window = add_window(web, care["carer2"], **later)
    carer, csrf = log_in(web, "c_carer2")
    r = carer.post(f"/api/visits/{window}/check-in", headers=csrf)
    assert r.status_code == 409
    assert "outside your visit" in r.json()["detail"]
    assert [v["now"] for v in carer.get("/api/my/visits").json() if v["window_id"] == window] == [
        False
    ]


def test_removing_a_window_is_audited(web: Web, care: dict[str, str]) -> None:
    window = add_window(web, care["carer2"], date="2026-12-24", start="22:00", end="01:00")
    owner, csrf = log_in(web, "c_owner")
    url = f"/api/homes/{web.rig.home}/visits/{window}"
    assert owner.delete(url, headers=csrf).status_code == 204
    assert owner.delete(url, headers=csrf).status_code == 404
    audit = owner.get(f"/api/homes/{web.rig.home}/audit").json()
    removed = [e for e in audit if e["action"] == "visit_window_removed"]
    assert removed
    assert f"visit:{window}" in removed[0]["subjects"]
    stranger, _ = log_in(web, "stranger")
    assert stranger.get(f"/api/homes/{web.rig.home}/audit").status_code == 403


def test_invitations_follow_who_may_invite_whom(web: Web, care: dict[str, str]) -> None:
    rig = web.rig
    url = f"/api/homes/{rig.home}/invitations"
    owner, csrf = log_in(web, "c_owner")
    r = owner.post(url, headers=csrf, json={"role": "carer", "display_name": "Dee"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert datetime.fromisoformat(r.json()["expires_at"]) > utcnow()
    assert owner.post(url, headers=csrf, json={"role": "family_owner"}).status_code == 403
    anna, anna_csrf = log_in(web, "anna")  # a family member may not invite anyone
    assert anna.post(url, headers=anna_csrf, json={"role": "family_member"}).status_code == 403
    newcomer = web.client_for()
    r = newcomer.post(
        "/api/invitations/accept",
        json={"token": token, "username": "c_dee", "password": PASSWORD, "display_name": "Dee"},
    )
    assert r.status_code == 201, r.text
    r = newcomer.post("/api/login", json={"username": "c_dee", "password": PASSWORD})
    assert r.status_code == 200
    me = newcomer.get("/api/me").json()
    assert me["display_name"] == "Dee"
    assert [(h["home"], h["role"], h["permissions"]) for h in me["homes"]] == [
        (rig.home, "carer", ["check_in"])
    ]
    audit = owner.get(f"/api/homes/{rig.home}/audit").json()
    assert any(e["action"] == "invitation_created" for e in audit)


def test_me_lists_homes_roles_and_rights(web: Web) -> None:
    anna, _ = log_in(web, "anna")
    me = anna.get("/api/me").json()
    assert me["person_id"] == web.rig.family
    (home,) = me["homes"]
    assert home["home"] == web.rig.home
    assert home["name"] == "Margaret's home"
    assert home["timezone"] == "Europe/London"
    assert home["role"] == "family_member"
    assert "unlock" in home["permissions"]
    assert "manage_carers" not in home["permissions"]


def test_live_view_sends_frames_and_stops(web: Web) -> None:
    rig = web.rig
    device = rig.add_device()
    _agent, _board = rig.agent(device)
    wait_online(rig, device)
    sub = rig.hub.bus.subscribe()
    try:
        anna, csrf = log_in(web, "anna")
        r = anna.post(
            f"/api/doors/{device}/live", headers=csrf, json={"seconds": 5, "interval_ms": 200}
        )
        assert r.status_code == 202, r.text
        command = r.json()["command_id"]
        deadline = time.monotonic() + 10
        frame = None
        while frame is None and time.monotonic() < deadline:
            notice = sub.get(timeout=1)
            if notice and notice.kind == "snapshot" and notice.data["reason"] == "live_view":
                frame = notice
        assert frame is not None
        assert frame.data["command_id"] == command
        r = anna.post(f"/api/doors/{device}/live/stop", headers=csrf)
        assert r.status_code == 202
        assert rig.hub.commands.wait(r.json()["command_id"], timeout=5) == "acknowledged"
    finally:
        sub.close()
    officer, officer_csrf = log_in(web, "officer")
    assert officer.post(f"/api/doors/{device}/live", headers=officer_csrf).status_code == 403
    r = anna.post(f"/api/doors/{device}/live", headers=csrf, json={"seconds": 61})
    assert r.status_code == 422


# -- the live stream: rings carry who is expected, check-ins reach the family ------------


def _listen(web: Web, base: str, name: str, kinds: set[str]) -> queue.Queue:
    r = httpx.post(
        f"{base}/api/login",
        json={"username": name, "password": PASSWORD, "totp": web.clock.code(web.totp[name])},
    )
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"].split(";")[0]  # plain HTTP on loopback: carry it by hand
    got: queue.Queue = queue.Queue()
    ready = threading.Event()

    def run() -> None:
        with (
            contextlib.suppress(httpx.HTTPError),  # the server stops at the module's end
            httpx.stream(
                "GET",
                f"{base}/api/stream",
                headers={"Cookie": cookie},
                timeout=httpx.Timeout(10, read=20),
            ) as r,
        ):
            event = None
            for line in r.iter_lines():
                ready.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event in kinds:
                    got.put((event, json.loads(line[6:])))

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(5)
    return got


def _next(got: queue.Queue, kind: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        event, data = got.get(timeout=max(0.01, deadline - time.monotonic()))
        if event == kind:
            return dict(data)


def test_stream_rings_carry_expected_and_check_ins_reach_family(
    web: Web, server: str, care: dict[str, str]
) -> None:
    rig = web.rig
    window = add_window(
        web, care["carer2"], **window_around(utcnow(), timedelta(minutes=30), timedelta(hours=2))
    )
    device = rig.add_device()
    _agent, board = rig.agent(device)
    wait_online(rig, device)
    family = _listen(web, server, "anna", {"ring", "check_in"})
    officer = _listen(web, server, "officer", {"ring", "check_in"})
    board.ring()
    ring = _next(family, "ring")
    assert ring["device"] == device
    assert window in [e["window_id"] for e in ring["expected"]]
    officer_ring = _next(officer, "ring")
    assert "expected" not in officer_ring  # carers' names are not a telecare matter
    carer, csrf = log_in(web, "c_carer2")
    assert carer.post(f"/api/visits/{window}/check-in", headers=csrf).status_code == 201
    notice = _next(family, "check_in")
    assert notice["window_id"] == window
    assert notice["carer"] == care["carer2"]
    assert notice["home"] == rig.home
    assert notice["name"] == "C_Carer2"
    with pytest.raises(queue.Empty):
        _next(officer, "check_in", timeout=1)
