"""The admin lists (GET /api/admin/devices, /api/admin/people) filtered in SQL and paged by
id: following the Link header walks exactly what the admin may see, once each, in order."""

from __future__ import annotations

import math
import re
import secrets
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from hub.policy import ROLE_PERMISSIONS, Permission
from hub.storage import add_membership, create_person, register_device, revoke_device
from hub.storage.models_registry import Role
from protocol import utcnow
from protocol.signing import public_key_pem
from tests.web.conftest import Web, log_in, make_person

RUN = secrets.token_hex(3)  # ids unique to this module's run


@pytest.fixture(scope="module")
def fleet(web: Web) -> dict[str, Any]:
    """An admin of the rig's home; doors in that home, in no home, and in another home;
    people in the admin's home, some also in the other home."""
    rig = web.rig
    admin = make_person(web, "p_admin", Role.ADMIN, rig.home)
    pem = public_key_pem(Ed25519PrivateKey.generate().public_key()).decode()
    now = utcnow()
    visible, hidden = set(), set()
    with rig.db.session() as s:
        for i in range(130):
            home = (rig.home, None, rig.other_home)[i % 3]
            device = f"d{RUN}-{i:03d}"
            name = f"Flat {i} door" if i % 2 else f"Back door {i}"
            register_device(s, device_id=device, name=name, public_key_pem=pem, at=now,
                            home_id=home)  # fmt: skip
            (hidden if home == rig.other_home else visible).add(device)
        gone = f"d{RUN}-revoked"
        register_device(s, device_id=gone, name="Old door", public_key_pem=pem, at=now)
        revoke_device(s, gone, now)
        people = {admin, rig.family, rig.telecare}
        for i in range(75):
            person = create_person(s, display_name=f"Person {i}", at=now).id
            add_membership(s, person_id=person, home_id=rig.home, role=Role.CARER, at=now)
            if i % 4 == 0:
                add_membership(s, person_id=person, home_id=rig.other_home, role=Role.CARER, at=now)
            people.add(person)
    return {"admin": admin, "visible": visible, "hidden": hidden, "people": people}


def walk(client: TestClient, url: str) -> tuple[list[dict[str, Any]], int]:
    """Every row from ``url`` on, following rel="next"; (rows, pages)."""
    rows: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        r = client.get(next_url)
        assert r.status_code == 200, r.text
        rows += r.json()
        pages += 1
        found = re.fullmatch(r'<([^>]+)>; rel="next"', r.headers.get("link", ""))
        next_url = found.group(1) if found else None
    return rows, pages


def test_admin_role_carries_administer() -> None:
    # administered() (and the lists' SQL) rely on this: the admin role's homes are theirs.
    assert Permission.ADMINISTER in ROLE_PERMISSIONS[Role.ADMIN]


def test_devices_page_by_page_exactly_what_the_admin_may_see(web: Web, fleet: dict) -> None:
    client, _ = log_in(web, "p_admin")
    rows, pages = walk(client, "/api/admin/devices?limit=17")
    ids = [d["device"] for d in rows]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    ours = {i for i in ids if i.startswith(f"d{RUN}-")}
    assert ours == fleet["visible"]  # no other home's door, no revoked door
    assert {d["home"] for d in rows} <= {web.rig.home, None}
    assert pages == math.ceil(len(ids) / 17)  # no empty page at the end
    whole = client.get("/api/admin/devices", params={"limit": 500})
    assert [d["device"] for d in whole.json()] == ids
    assert "link" not in whole.headers


def test_devices_prefix_search_on_id_and_name(web: Web, fleet: dict) -> None:
    client, _ = log_in(web, "p_admin")
    by_id, _ = walk(client, f"/api/admin/devices?limit=5&q=d{RUN}-00")
    assert {d["device"] for d in by_id} == {
        f"d{RUN}-00{i}" for i in range(10) if f"d{RUN}-00{i}" in fleet["visible"]
    }
    by_name, _ = walk(client, "/api/admin/devices?limit=5&q=flat%201")  # any case
    names = {d["name"] for d in by_name}
    assert names
    assert all(n.lower().startswith("flat 1") for n in names)
    assert "Flat 103 door" in names
    assert "Flat 101 door" not in names
    wildcard = client.get("/api/admin/devices", params={"q": "%"})
    assert wildcard.status_code == 200
    assert wildcard.json() == []


def test_people_page_by_page_with_only_the_admin_s_homes(web: Web, fleet: dict) -> None:
    client, _ = log_in(web, "p_admin")
    rows, pages = walk(client, "/api/admin/people?limit=10")
    ids = [p["person_id"] for p in rows]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    assert set(ids) == fleet["people"]
    assert pages >= 8
    assert fleet["admin"] in ids
    assert web.rig.stranger not in ids
    for p in rows:
        assert p["memberships"]
        assert {m["home"] for m in p["memberships"]} == {web.rig.home}
    named, _ = walk(client, "/api/admin/people?limit=3&q=person%207")
    assert sorted(p["name"] for p in named) == ["Person 7", "Person 70", "Person 71",
                                                 "Person 72", "Person 73", "Person 74"]  # fmt: skip


@pytest.mark.parametrize("path", ["/api/admin/devices", "/api/admin/people"])
@pytest.mark.parametrize(
    "params", [{"after": "a\x00b"}, {"q": "\x07"}, {"limit": 0}, {"limit": 501}, {"q": ""}]
)
def test_bad_paging_parameters_are_refused(
    web: Web, fleet: dict, path: str, params: dict[str, Any]
) -> None:
    client, _ = log_in(web, "p_admin")
    assert client.get(path, params=params).status_code == 422
