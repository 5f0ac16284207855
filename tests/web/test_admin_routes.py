"""Administration through the API (homes, doors, people, roles, grants) against a real hub,
and the first admin and invitations from the command line against a real SQLite file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import cli
from hub.audit import entries
from hub.policy import Permission, permissions
from hub.storage import Database, assign_home, get_device, memberships_of, register_device
from hub.storage.accounts import accept_invitation, check_password, find_account, start_totp
from hub.storage.models_registry import Role
from protocol import new_device_id, utcnow
from protocol.signing import public_key_pem
from tests.web.conftest import PASSWORD, Web, fast_passwords, log_in, make_person


@pytest.fixture(scope="module")
def admin(web: Web) -> str:
    return make_person(web, "a_admin", Role.ADMIN, web.rig.home)


def _loose_device(web: Web) -> str:
    device = new_device_id()
    key = Ed25519PrivateKey.generate()
    with web.rig.db.session() as s:
        register_device(
            s,
            device_id=device,
            name="Spare door",
            public_key_pem=public_key_pem(key.public_key()).decode(),
            at=utcnow(),
        )
    return device


def test_admin_sees_only_their_homes_and_creates_one(web: Web, admin: str) -> None:
    rig = web.rig
    client, csrf = log_in(web, "a_admin")
    homes = {h["home"] for h in client.get("/api/admin/homes").json()}
    assert homes == {rig.home}
    r = client.post(
        "/api/admin/homes", headers=csrf, json={"name": "Flat 2", "timezone": "Europe/Paris"}
    )
    assert r.status_code == 201, r.text
    new = r.json()["home"]
    assert {h["home"] for h in client.get("/api/admin/homes").json()} == {rig.home, new}
    with rig.db.read_session() as s:
        assert Permission.ADMINISTER in permissions(s, admin, new)
    bad = client.post("/api/admin/homes", headers=csrf, json={"name": "X", "timezone": "Mars/Base"})
    assert bad.status_code == 422
    assert "IANA" in bad.json()["detail"]


def test_non_admins_are_refused_everywhere(web: Web) -> None:
    anna, csrf = log_in(web, "anna")
    for path in ("/api/admin/homes", "/api/admin/devices", "/api/admin/people"):
        assert anna.get(path).status_code == 403
    r = anna.post("/api/admin/homes", headers=csrf, json={"name": "Mine", "timezone": "UTC"})
    assert r.status_code == 403


def test_admin_places_a_new_door_but_not_another_homes_door(web: Web, admin: str) -> None:
    rig = web.rig
    loose = _loose_device(web)
    foreign = rig.add_device()
    with rig.db.session() as s:
        assign_home(s, foreign, rig.other_home)
    client, csrf = log_in(web, "a_admin")
    listed = {d["device"]: d["home"] for d in client.get("/api/admin/devices").json()}
    assert listed[loose] is None
    assert foreign not in listed
    r = client.post(f"/api/admin/devices/{loose}/home", headers=csrf, json={"home": rig.home})
    assert r.status_code == 200, r.text
    with rig.db.read_session() as s:
        assert get_device(s, loose).home_id == rig.home
    r = client.post(f"/api/admin/devices/{foreign}/home", headers=csrf, json={"home": rig.home})
    assert r.status_code == 403
    r = client.post(f"/api/admin/devices/{loose}/home", headers=csrf, json={"home": rig.other_home})
    assert r.status_code == 403
    with rig.db.read_session() as s:
        assigned = [e for e in entries(s) if e.action == "device_assigned"]
    assert assigned[-1].details == {"before": None, "after": rig.home}


def test_members_and_grants(web: Web, admin: str) -> None:
    rig = web.rig
    client, csrf = log_in(web, "a_admin")
    people = {p["person_id"]: p for p in client.get("/api/admin/people").json()}
    assert rig.family in people
    assert rig.stranger not in people  # not in any home this admin runs
    base = f"/api/admin/homes/{rig.home}"
    r = client.post(
        f"{base}/members", headers=csrf, json={"person_id": rig.stranger, "role": "family_member"}
    )
    assert r.status_code == 404
    r = client.post(
        f"{base}/members", headers=csrf, json={"person_id": rig.family, "role": "carer"}
    )
    assert r.status_code == 201, r.text
    with rig.db.read_session() as s:
        assert Permission.CHECK_IN in permissions(s, rig.family, rig.home)
    assert client.delete(f"{base}/members/{rig.family}/carer", headers=csrf).status_code == 204
    assert client.delete(f"{base}/members/{rig.family}/carer", headers=csrf).status_code == 404
    r = client.delete(f"{base}/members/{admin}/admin", headers=csrf)
    assert r.status_code == 409
    assert "last administrator" in r.json()["detail"]

    grant = {"person_id": rig.telecare, "role": "telecare_officer"}
    r = client.post(
        f"{base}/grants", headers=csrf, json={**grant, "grant": "telecare_may_view_snapshots"}
    )
    assert r.status_code == 201, r.text
    with rig.db.read_session() as s:
        assert Permission.VIEW_SNAPSHOTS in permissions(s, rig.telecare, rig.home)
    r = client.post(f"{base}/grants", headers=csrf, json={**grant, "grant": "may_unlock"})
    assert r.status_code == 422
    r = client.delete(
        f"{base}/grants",
        headers=csrf,
        params={**grant, "grant": "telecare_may_view_snapshots"},
    )
    assert r.status_code == 204
    with rig.db.read_session() as s:
        assert Permission.VIEW_SNAPSHOTS not in permissions(s, rig.telecare, rig.home)
        changes = [e.details.get("change") for e in entries(s) if e.action == "role_changed"]
    assert {"added", "removed", "grant_added", "grant_removed"} <= set(changes)


def test_admin_invites_any_role(web: Web, admin: str) -> None:
    client, csrf = log_in(web, "a_admin")
    r = client.post(
        f"/api/homes/{web.rig.home}/invitations",
        headers=csrf,
        json={"role": "telecare_officer", "display_name": "Council"},
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/homes/{web.rig.other_home}/invitations", headers=csrf, json={"role": "carer"}
    )
    assert r.status_code == 403


# -- the command line ---------------------------------------------------------------------


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="doorstep")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_create_admin_once_then_invite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))
    secret = tmp_path / "admin-password"
    secret.write_text(PASSWORD + "\n")
    short = tmp_path / "short"
    short.write_text("tooshort\n")
    assert run("hub", "create-admin", "--username", "root", "--password-file", str(short)) == 2
    assert "too short" in capsys.readouterr().err
    assert run("hub", "create-admin", "--username", "root", "--password-file", str(secret)) == 0
    out = capsys.readouterr().out
    home = out.split()[-1]
    assert run("hub", "create-admin", "--username", "root2", "--password-file", str(secret)) == 2
    assert "accounts exist already" in capsys.readouterr().err
    assert (tmp_path / "keys" / "totp.key").stat().st_mode & 0o777 == 0o600
    assert run("hub", "seal-totp") == 0
    assert "sealed 0 TOTP secret(s)" in capsys.readouterr().out

    assert run("hub", "invite", "--home", home, "--role", "carer", "--name", "Bob") == 0
    captured = capsys.readouterr()
    token = captured.out.strip()
    assert f"/invite#{token}" in captured.err
    assert run("hub", "invite", "--home", "nowhere", "--role", "carer", "--name", "X") == 2

    db = Database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    try:
        passwords = fast_passwords()
        with db.session() as s:
            root = find_account(s, "root")
            assert root is not None
            assert check_password(s, passwords, "root", PASSWORD, at=utcnow()).account is not None
            assert [(m.home_id, m.role) for m in memberships_of(s, root.person_id)] == [
                (home, Role.ADMIN)
            ]
            start_totp(s, root.person_id)  # this Database has no key: stored plain
            bob = accept_invitation(
                s,
                passwords,
                token,
                username="bob",
                password=PASSWORD,
                display_name="Bob",
                at=utcnow(),
            )
            assert Permission.CHECK_IN in permissions(s, bob.person_id, home)
        with db.read_session() as s:
            actions = [e.action for e in entries(s)]
        assert actions == ["home_created", "account_created", "role_changed", "invitation_created"]
        assert run("hub", "seal-totp") == 0  # the settings' Database has the key
        assert "sealed 1 TOTP secret(s)" in capsys.readouterr().out
        with db.read_session() as s:
            sealed = find_account(s, "root")
            assert sealed is not None
            assert len(sealed.totp_secret or "") == 64
    finally:
        db.dispose()
