"""Every route x every role x own home / another home: no unauthorised success.

The expected right of each route is written here (not read from the app); whether a
person holds it in a home comes from ``hub.policy`` (the one table of who may do what).
A snapshot seen by a telecare officer through a grant must be audited.
"""

from __future__ import annotations

import pyotp
import pytest

from hub.audit import entries
from hub.policy import Permission, permissions
from hub.storage import add_membership, create_person, events_of, snapshots_for_event
from hub.storage.accounts import confirm_totp, create_account, start_totp
from hub.storage.alerts import raise_alert
from hub.storage.devices import assign_home
from hub.storage.models_commands import AlertKind
from hub.storage.models_registry import Grant, Role
from protocol import utcnow
from tests.web.conftest import PASSWORD, Web, wait_online

# route -> (method, path template, right needed in the resource's home)
ROUTES = {
    "doors": ("GET", "/api/homes/{home}/doors", Permission.VIEW_HEALTH),
    "events": ("GET", "/api/homes/{home}/events", Permission.VIEW_EVENTS),
    "snapshot": ("GET", "/api/snapshots/{snapshot}", Permission.VIEW_SNAPSHOTS),
    "unlock": ("POST", "/api/doors/{device}/unlock", Permission.UNLOCK),
    "command": ("GET", "/api/commands/{command}", Permission.VIEW_EVENTS),
    "ack_alert": ("POST", "/api/alerts/{alert}/acknowledge", Permission.ACK_ALERTS),
}


def _person(web: Web, name: str, role: Role, home: str, grants: tuple[Grant, ...] = ()) -> str:
    now = utcnow()
    with web.rig.db.session() as s:
        person = create_person(s, display_name=name, at=now).id
        add_membership(s, person_id=person, home_id=home, role=role, at=now, grants=grants)
        create_account(s, web.passwords, person_id=person, username=name, password=PASSWORD, at=now)
        web.totp[name] = start_totp(s, person)
        assert confirm_totp(s, person, pyotp.TOTP(web.totp[name]).now(), at=now)
    return person


@pytest.fixture(scope="module")
def world(web: Web) -> dict[str, dict[str, str]]:
    """One door, one ring with its snapshot, one command and one alert in each home."""
    rig = web.rig
    out: dict[str, dict[str, str]] = {}
    for label, home in (("own", rig.home), ("other", rig.other_home)):
        device = rig.add_device()
        with rig.db.session() as s:
            assign_home(s, device, home)
        _agent, board = rig.agent(device)
        wait_online(rig, device)
        board.ring()
        snapshot: list[str] = []

        def stored(device: str = device, snapshot: list[str] = snapshot) -> bool:
            with rig.db.read_session() as s:
                for e in events_of(s, device):
                    snapshot[:] = [m.id for m in snapshots_for_event(s, e.event_id)]
                return bool(snapshot)

        assert rig.wait_until(stored)
        owner = rig.family if label == "own" else rig.stranger
        ticket = rig.hub.commands.request(device, "unlock", person_id=owner, hold_s=0.05)
        rig.hub.commands.wait(ticket.id, timeout=5)
        with rig.db.session() as s:
            alert, _ = raise_alert(s, AlertKind.LOW_DISK, at=utcnow(), device_id=device)
        out[label] = {
            "home": home,
            "device": device,
            "snapshot": snapshot[0],
            "command": ticket.id,
            "alert": str(alert.id),
        }
    return out


@pytest.fixture(scope="module")
def people(web: Web) -> dict[str, str]:
    rig = web.rig
    return {
        "anna": rig.family,
        "officer": rig.telecare,
        "stranger": rig.stranger,
        "carer1": _person(web, "carer1", Role.CARER, rig.home),
        "granted1": _person(
            web, "granted1", Role.TELECARE_OFFICER, rig.home, (Grant.TELECARE_MAY_VIEW_SNAPSHOTS,)
        ),
        "owner1": _person(web, "owner1", Role.FAMILY_OWNER, rig.home),
    }


def test_no_unauthorised_success(
    web: Web, world: dict[str, dict[str, str]], people: dict[str, str]
) -> None:
    rig = web.rig
    refused = allowed = unauthorised_successes = 0
    for name, person in people.items():
        client = web.client_for()
        r = client.post(
            "/api/login",
            json={"username": name, "password": PASSWORD, "totp": web.clock.code(web.totp[name])},
        )
        assert r.status_code == 200, (name, r.text)
        csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
        client.post("/api/step-up", headers=csrf, json={"totp": web.clock.code(web.totp[name])})
        for route, (method, template, right) in ROUTES.items():
            for _label, ids in world.items():
                with rig.db.read_session() as s:
                    may = right in permissions(s, person, ids["home"])
                if route == "command" and person in (rig.family, rig.stranger):
                    may = may or ids["home"] == (
                        rig.home if person == rig.family else rig.other_home
                    )
                r = client.request(method, template.format(**ids), headers=csrf)
                if not may:
                    refused += 1
                    unauthorised_successes += r.status_code < 400
                    assert r.status_code in (403, 404), (name, route, r.status_code, r.text)
                else:
                    allowed += 1
                    assert r.status_code not in (401, 403), (name, route, r.text)
    assert unauthorised_successes == 0
    assert refused > 20
    assert allowed > 5


def test_snapshot_through_a_grant_is_audited(
    web: Web, world: dict[str, dict[str, str]], people: dict[str, str]
) -> None:
    client = web.client_for()
    r = client.post(
        "/api/login",
        json={
            "username": "granted1",
            "password": PASSWORD,
            "totp": web.clock.code(web.totp["granted1"]),
        },
    )
    assert r.status_code == 200
    r = client.get(f"/api/snapshots/{world['own']['snapshot']}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8"
    with web.rig.db.read_session() as s:
        viewed = [e for e in entries(s) if e.action == "snapshot_viewed"]
    assert viewed
    assert viewed[-1].details["by_grant"] == "view_snapshots"
