"""Carers' photos over the API against a real hub: who may upload, see and withdraw
them, the size and picture checks, and the photo on "expected now"."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from hub.audit import entries
from hub.storage.models_registry import Grant, Role
from protocol import utcnow
from tests.hub.test_carer_photos import STATEMENT, photo, with_exif
from tests.web.conftest import Web, log_in, make_person
from tests.web.test_care_routes import window_around


@pytest.fixture(scope="module")
def people(web: Web) -> dict[str, str]:
    rig = web.rig
    return {
        "owner": make_person(web, "p_owner", Role.FAMILY_OWNER, rig.home),
        "carer": make_person(web, "p_carer", Role.CARER, rig.home),
        "carer2": make_person(web, "p_carer2", Role.CARER, rig.home),
        "far_carer": make_person(web, "p_far", Role.CARER, rig.other_home),
        "granted": make_person(
            web, "p_granted", Role.TELECARE_OFFICER, rig.home, (Grant.TELECARE_MAY_VIEW_SNAPSHOTS,)
        ),
    }


def body(image: bytes | None = None, **consent: Any) -> dict[str, Any]:
    return {"image": base64.b64encode(image or photo()).decode(), "consent": True, **consent}


def url(web: Web, carer: str, home: str | None = None) -> str:
    return f"/api/homes/{home or web.rig.home}/carers/{carer}/photo"


def test_a_carer_uploads_their_own_photo_with_consent(web: Web, people: dict[str, str]) -> None:
    carer, csrf = log_in(web, "p_carer")
    r = carer.put(url(web, people["carer"]), headers=csrf, json=body(consent=False))
    assert r.status_code == 422
    assert "no consent, no photo" in r.json()["detail"]
    r = carer.put(url(web, people["carer"]), headers=csrf, json=body(with_exif(photo(900, 900))))
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["consent_by"], got["recorded_by"]) == ("carer", people["carer"])
    assert (got["width"], got["height"]) == (512, 512)
    mine = carer.get("/api/my/carer-photos").json()
    assert [(m["home"], m["photo"]["photo_id"]) for m in mine] == [(web.rig.home, got["photo_id"])]
    picture = carer.get(got["photo_url"])  # the carer sees their own photo
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["cache-control"] == "private, no-store"
    assert b"CameraMaker" not in picture.content


def test_a_carer_cannot_upload_or_remove_another_carers_photo(
    web: Web, people: dict[str, str]
) -> None:
    carer, csrf = log_in(web, "p_carer")
    r = carer.put(url(web, people["carer2"]), headers=csrf, json=body())
    assert r.status_code == 403
    far, far_csrf = log_in(web, "p_far")
    r = far.put(url(web, people["far_carer"]), headers=far_csrf, json=body())  # not their home
    assert r.status_code == 403
    r = far.delete(url(web, people["carer"]), headers=far_csrf)
    assert r.status_code == 403


def test_the_owner_records_consent_with_a_statement(web: Web, people: dict[str, str]) -> None:
    owner, csrf = log_in(web, "p_owner")
    r = owner.put(url(web, people["carer2"]), headers=csrf, json=body())
    assert r.status_code == 422
    assert "how the carer consented" in r.json()["detail"]
    r = owner.put(url(web, people["carer2"]), headers=csrf, json=body(statement=STATEMENT))
    assert r.status_code == 201, r.text
    assert r.json()["consent_by"] == "family_owner"
    listed = owner.get(f"/api/homes/{web.rig.home}/carer-photos").json()
    mine = next(p for p in listed if p["carer"] == people["carer2"])
    assert mine["consent_statement"] == STATEMENT
    assert mine["recorded_by"] == people["owner"]
    # Not a carer of this home: no photo here.
    r = owner.put(url(web, people["far_carer"]), headers=csrf, json=body(statement=STATEMENT))
    assert r.status_code == 404
    # Another home's owner cannot record anything here.
    stranger, s_csrf = log_in(web, "stranger")
    r = stranger.put(url(web, people["carer"]), headers=s_csrf, json=body(statement=STATEMENT))
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("image", "status", "words"),
    [
        (b"just some text, not a picture", 422, "not a JPEG or PNG"),
        (b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024 + 10), 413, "limit"),
    ],
)
def test_bad_or_oversized_pictures_are_refused_clearly(
    web: Web, people: dict[str, str], image: bytes, status: int, words: str
) -> None:
    carer, csrf = log_in(web, "p_carer2")
    r = carer.put(url(web, people["carer2"]), headers=csrf, json=body(image))
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_not_base64_is_a_422(web: Web, people: dict[str, str]) -> None:
    carer, csrf = log_in(web, "p_carer2")
    r = carer.put(url(web, people["carer2"]), headers=csrf, json={"image": "@@@@", "consent": True})
    assert r.status_code == 422
    assert "base64" in r.json()["detail"]


def test_who_sees_the_photo(web: Web, people: dict[str, str]) -> None:
    carer, csrf = log_in(web, "p_carer")
    r = carer.put(url(web, people["carer"]), headers=csrf, json=body())
    assert r.status_code == 201
    link = r.json()["photo_url"]
    seen = {}
    for name in ("anna", "p_owner", "p_granted", "officer", "stranger", "p_carer2", "p_far"):
        client, _ = log_in(web, name)
        seen[name] = client.get(link).status_code
    assert seen == {
        "anna": 200,  # family member of the home
        "p_owner": 200,
        "p_granted": 200,  # an officer the home lets see ring pictures (audited below)
        "officer": 403,  # an officer without that grant
        "stranger": 403,  # another home
        "p_carer2": 403,  # another carer of the same home
        "p_far": 403,
    }
    with web.rig.db.read_session() as s:
        viewed = [e for e in entries(s) if e.action == "carer_photo_viewed"]
    assert [e.actor for e in viewed] == [f"person:{people['granted']}"]


def test_expected_now_has_the_photo_url_until_consent_is_withdrawn(
    web: Web, people: dict[str, str]
) -> None:
    owner, o_csrf = log_in(web, "p_owner")
    window = window_around(utcnow(), timedelta(minutes=30), timedelta(hours=2))
    r = owner.post(
        f"/api/homes/{web.rig.home}/visits",
        headers=o_csrf,
        json={"carer": people["carer"], "agency": "Bright Care", "tolerance_min": 10, **window},
    )
    assert r.status_code == 201
    window_id = r.json()["window_id"]
    carer, csrf = log_in(web, "p_carer")
    r = carer.put(url(web, people["carer"]), headers=csrf, json=body())
    assert r.status_code == 201
    link = r.json()["photo_url"]
    anna, _ = log_in(web, "anna")

    def expected() -> dict[str, Any]:
        got = anna.get(f"/api/homes/{web.rig.home}/expected").json()["expected"]
        return next(e for e in got if e["window_id"] == window_id)

    assert expected()["photo_url"] == link
    assert anna.get(link).status_code == 200
    r = carer.delete(url(web, people["carer"]), headers=csrf)  # consent withdrawn
    assert r.status_code == 204
    assert expected()["photo_url"] is None
    assert anna.get(link).status_code == 404
    assert carer.delete(url(web, people["carer"]), headers=csrf).status_code == 404
    with web.rig.db.read_session() as s:
        actions = [e.action for e in entries(s) if e.action.startswith("carer_photo_")]
    assert "carer_photo_removed" in actions


def test_the_owner_may_withdraw_a_carers_photo(web: Web, people: dict[str, str]) -> None:
    owner, csrf = log_in(web, "p_owner")
    r = owner.put(url(web, people["carer2"]), headers=csrf, json=body(statement=STATEMENT))
    assert r.status_code == 201
    anna, a_csrf = log_in(web, "anna")  # a family member, not the owner: may see, not remove
    assert anna.delete(url(web, people["carer2"]), headers=a_csrf).status_code == 403
    assert owner.delete(url(web, people["carer2"]), headers=csrf).status_code == 204


def test_a_carer_who_left_the_home_can_still_withdraw_but_not_upload(web: Web) -> None:
    from hub.storage.homes import remove_membership

    leaver = make_person(web, "p_leaver", Role.CARER, web.rig.home)
    client, csrf = log_in(web, "p_leaver")
    assert client.put(url(web, leaver), headers=csrf, json=body()).status_code == 201
    with web.rig.db.session() as s:
        remove_membership(s, person_id=leaver, home_id=web.rig.home, role=Role.CARER)
    assert client.put(url(web, leaver), headers=csrf, json=body()).status_code == 403
    assert client.delete(url(web, leaver), headers=csrf).status_code == 204


def test_removing_a_carer_from_the_home_deletes_their_photo_there(web: Web) -> None:
    leaving = make_person(web, "p_removed", Role.CARER, web.rig.home)
    make_person(web, "p_admin", Role.ADMIN, web.rig.home)
    carer, csrf = log_in(web, "p_removed")
    link = carer.put(url(web, leaving), headers=csrf, json=body()).json()["photo_url"]
    admin, admin_csrf = log_in(web, "p_admin")
    r = admin.delete(f"/api/admin/homes/{web.rig.home}/members/{leaving}/carer", headers=admin_csrf)
    assert r.status_code == 204
    owner, _ = log_in(web, "p_owner")
    assert owner.get(link).status_code == 404
    with web.rig.db.read_session() as s:
        removed = [e for e in entries(s) if e.action == "carer_photo_removed"]
    assert removed
    assert removed[-1].actor.endswith(leaving) is False  # removed by the admin, not the carer
    assert removed[-1].details["reason"] == "carer_removed"  # not a consent withdrawal
