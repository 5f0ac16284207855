"""Logging in, CSRF, step-up and unlocking a real simulated door through the API."""

from __future__ import annotations

from typing import Literal

from argon2 import PasswordHasher

from hub.audit import entries
from hub.storage import create_person
from hub.storage.accounts import create_account
from protocol import utcnow
from tests.web.conftest import PASSWORD, Web, wait_online


def login(web: Web, name: str) -> tuple[object, dict[str, str]]:
    client = web.client_for()
    r = client.post(
        "/api/login",
        json={"username": name, "password": PASSWORD, "totp": web.clock.code(web.totp[name])},
    )
    assert r.status_code == 200, r.text
    return client, {"X-CSRF-Token": r.json()["csrf_token"]}


def test_cookie_is_host_prefixed_secure_httponly_strict(web: Web) -> None:
    client = web.client_for()
    r = client.post(
        "/api/login",
        json={"username": "anna", "password": PASSWORD, "totp": web.clock.code(web.totp["anna"])},
    )
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-doorstep=")
    for part in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert part.lower() in cookie.lower()
    assert "domain" not in cookie.lower()


def test_wrong_password_and_missing_code_are_refused(web: Web) -> None:
    client = web.client_for()
    assert (
        client.post("/api/login", json={"username": "anna", "password": "wrong" * 3}).status_code
        == 401
    )
    assert (
        client.post("/api/login", json={"username": "anna", "password": PASSWORD}).status_code
        == 401
    )
    assert client.get("/api/session").status_code == 401


class CountingHasher(PasswordHasher):
    """A real Argon2id hasher that counts its verifications."""

    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.verified += 1
        return super().verify(hash, password)


def test_account_locks_after_failures_and_unknown_user_costs_the_same(web: Web) -> None:
    with web.rig.db.session() as s:
        person = create_person(s, display_name="Locky", at=utcnow()).id
        create_account(
            s, web.passwords, person_id=person, username="locky", password=PASSWORD, at=utcnow()
        )
    client = web.client_for()
    body = {"username": "locky", "password": "not the password"}
    original = web.passwords.hasher
    web.passwords.hasher = CountingHasher(time_cost=1, memory_cost=8192, parallelism=1)
    try:
        CountingHasher.verified = 0
        codes = [client.post("/api/login", json=body).status_code for _ in range(4)]
        known = CountingHasher.verified
        assert codes[:3] == [401, 401, 401]
        assert codes[3] == 429
        right = {"username": "locky", "password": PASSWORD}
        assert client.post("/api/login", json=right).status_code == 429  # locked even if right
        CountingHasher.verified = 0
        nobody = {"username": "nobody", "password": "x" * 12}
        assert [client.post("/api/login", json=nobody).status_code for _ in range(4)] == [401] * 4
        unknown = CountingHasher.verified
    finally:
        web.passwords.hasher = original
    # No timing oracle: an unknown name pays one full Argon2id check, as a known one does
    # (counted rather than timed, which the database's own work would drown).
    assert known == unknown == 4, (known, unknown)


def test_state_change_without_csrf_token_is_refused(web: Web) -> None:
    client, csrf = login(web, "anna")
    assert client.post("/api/logout").status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/logout", headers=csrf).status_code == 204
    assert client.get("/api/session").status_code == 401


def test_unlock_needs_step_up_then_energises_the_relay(web: Web) -> None:
    rig = web.rig
    device = rig.add_device()
    _agent, board = rig.agent(device)
    wait_online(rig, device)
    client, csrf = login(web, "anna")
    r = client.post(f"/api/doors/{device}/unlock", headers=csrf)
    assert r.status_code == 403
    assert "step up" in r.json()["detail"]
    assert board.relay_changes == []
    r = client.post("/api/step-up", headers=csrf, json={"totp": web.clock.code(web.totp["anna"])})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/doors/{device}/unlock", headers=csrf, json={"reason": "carer"})
    assert r.status_code == 202, r.text
    command = r.json()["command_id"]
    assert rig.hub.commands.wait(command, timeout=5) == "acknowledged"
    answer = client.get(f"/api/commands/{command}").json()
    assert answer["status"] == "acknowledged"
    assert answer["relock_in_s"] == 0.3  # the rig's door holds 0.3 s and its answer says so
    assert board.relay_changes[0][1] is True
    doors = client.get(f"/api/homes/{rig.home}/doors").json()
    assert device in [d["device"] for d in doors]


def test_telecare_sees_fleet_but_not_snapshots_or_unlock(web: Web) -> None:
    rig = web.rig
    device = rig.devices[0] if rig.devices else rig.add_device()
    client, csrf = login(web, "officer")
    fleet = client.get("/api/fleet").json()
    assert device in [d["device"] for d in fleet]
    assert all("snapshot" not in key for d in fleet for key in d)
    client.post("/api/step-up", headers=csrf, json={"totp": web.clock.code(web.totp["officer"])})
    assert client.post(f"/api/doors/{device}/unlock", headers=csrf).status_code == 403
    assert client.get(f"/api/homes/{rig.home}/events").status_code == 403


def test_another_homes_door_is_refused(web: Web) -> None:
    rig = web.rig
    device = rig.devices[0] if rig.devices else rig.add_device()
    client, csrf = login(web, "stranger")
    client.post("/api/step-up", headers=csrf, json={"totp": web.clock.code(web.totp["stranger"])})
    assert client.get(f"/api/homes/{rig.home}/doors").status_code == 403
    assert client.post(f"/api/doors/{device}/unlock", headers=csrf).status_code == 403
    assert client.get(f"/api/homes/{rig.other_home}/doors").status_code == 200


def test_unlock_with_its_code_is_one_transaction(web: Web) -> None:
    """A code sent with the unlock steps up and requests in one commit: a wrong code leaves
    neither a command nor a step-up; a right one leaves both, audited in order."""
    rig = web.rig
    device = rig.add_device()
    rig.agent(device)
    wait_online(rig, device)
    client, csrf = login(web, "anna")
    with rig.db.read_session() as s:
        before = [e.action for e in entries(s)]
    url = f"/api/doors/{device}/unlock"
    r = client.post(url, headers=csrf, json={"reason": "carer", "totp": "000000"})
    assert r.status_code == 401
    with rig.db.read_session() as s:
        assert [e.action for e in entries(s)] == before
    code = web.clock.code(web.totp["anna"])
    r = client.post(url, headers=csrf, json={"reason": "carer", "totp": code})
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("sent", "acknowledged")
    assert rig.hub.commands.wait(r.json()["command_id"], timeout=5) == "acknowledged"
    with rig.db.read_session() as s:
        added = [e.action for e in entries(s)][len(before) :]
    assert added[:3] == ["step_up", "unlock_requested", "command_sent"]
