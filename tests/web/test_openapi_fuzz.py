"""Fuzzing every route of the API's own OpenAPI document with schemathesis: no 5xx, ever.

Routes are read from the app's ``/openapi.json`` at run time, so a new route is fuzzed
the day it is added. Each operation gets valid and invalid requests (schemathesis's
positive and negative modes) three ways: with no session; with a family member's
session (cookie + CSRF header) and random ids; and with that session, the second
factor done and path ids pinned to the member's real home and door, so requests get
past the 404s into the routes' own code.

    .venv/bin/python -m pytest tests/web/test_openapi_fuzz.py -q
    DOORSTEP_FUZZ_EXAMPLES=100 .venv/bin/python -m pytest tests/web/test_openapi_fuzz.py -q
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation

from hub.storage import add_membership, create_person
from hub.storage.accounts import confirm_totp, create_account, start_totp
from hub.storage.models_registry import Role
from protocol import utcnow
from tests.web.conftest import PASSWORD, Web, wait_online

# Small by default so the test stays well under a minute; raise it by hand to dig deeper.
EXAMPLES = int(os.environ.get("DOORSTEP_FUZZ_EXAMPLES", "3"))
# Ends the session the other requests need: checked once by hand below instead.
SESSION_ENDERS = {("POST", "/api/logout")}
# An EventSource stream never ends by itself: its own tests read it over a real server.
STREAMS = {("GET", "/api/stream")}


@dataclass
class Member:
    cookies: dict[str, str]
    headers: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)


@dataclass
class Findings:
    calls: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    succeeded: set[tuple[str, str]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _login(web: Web, name: str) -> Member:
    client = web.client_for()
    r = client.post(
        "/api/login",
        json={"username": name, "password": PASSWORD, "totp": web.clock.code(web.totp[name])},
    )
    assert r.status_code == 200, r.text
    cookie_name = web.app.state.settings.cookie_name
    token = r.cookies.get(cookie_name) or client.cookies.get(cookie_name)
    assert token
    return Member({cookie_name: token}, {"X-CSRF-Token": r.json()["csrf_token"]})


@pytest.fixture(scope="module")
def schema(web: Web) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", web.app)


@pytest.fixture(scope="module")
def family(web: Web) -> Member:
    # A fuzz-only family member: fuzzing the login route must never lock out a shared account.
    now = utcnow()
    with web.rig.db.session() as s:
        person = create_person(s, display_name="Fuzz", at=now).id
        add_membership(s, person_id=person, home_id=web.rig.home, role=Role.FAMILY_MEMBER, at=now)
        create_account(
            s, web.passwords, person_id=person, username="fuzz-family", password=PASSWORD, at=now
        )
        web.totp["fuzz-family"] = start_totp(s, person)
        assert confirm_totp(s, person, pyotp.TOTP(web.totp["fuzz-family"]).now(), at=now)
    device = web.rig.add_device()
    # A real door that stays online (heartbeats) however long the fuzzing takes.
    web.rig.agent(device, heartbeat_s=10)
    wait_online(web.rig, device)
    member = _login(web, "fuzz-family")
    member.ids = {"home": web.rig.home, "device": device, "person_id": person}
    return member


def _public_routes(web: Web) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in web.app.routes
        if isinstance(route, APIRoute) and getattr(route.endpoint, "__doorstep_public__", False)
        for method in route.methods
    }


def _operations(schema: schemathesis.BaseSchema, skip: set[tuple[str, str]]) -> list[APIOperation]:
    ops = [result.ok() for result in schema.get_all_operations()]
    return [op for op in ops if (op.method.upper(), op.path) not in skip]


def _fuzz(
    op: APIOperation, member: Member | None, found: Findings, pinned: dict[str, str] | None = None
) -> None:
    names = {p.name for p in op.path_parameters}
    fixed = {k: v for k, v in (pinned or {}).items() if k in names} or None
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = op.as_strategy(generation_mode=mode, path_parameters=fixed)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same requests on every run: a failure reproduces
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: schemathesis.Case) -> None:
            kwargs: dict[str, Any] = {}
            if member is not None:
                kwargs = {"cookies": member.cookies, "headers": member.headers}
            try:
                response = case.call(**kwargs)
            except Exception as exc:  # the app raised: a 500 in production
                found.errors.append(f"{op.label}: {exc!r}\n{case.as_curl_command()}")
                return
            found.calls += 1
            code = response.status_code
            found.by_status[code] = found.by_status.get(code, 0) + 1
            if code < 300:
                found.succeeded.add((op.method.upper(), op.path))
            if code >= 500:
                found.errors.append(f"{op.label} -> {code}\n{case.as_curl_command()}")

        try:
            run()
        except Unsatisfiable:  # e.g. no invalid request exists for a route without inputs
            continue


def test_no_server_errors_without_a_session(
    web: Web, schema: schemathesis.BaseSchema, record_property: Any
) -> None:
    found = Findings()
    ops = _operations(schema, set())  # the stream too: without a session it must not open
    for op in ops:
        _fuzz(op, None, found)
    record_property("operations", len(ops))
    record_property("statuses", found.by_status)
    assert not found.errors, "\n\n".join(found.errors)
    assert found.calls >= len(ops)
    # Secure by default: nothing but the routes marked public ever answered 2xx.
    assert found.succeeded <= _public_routes(web), found.succeeded - _public_routes(web)


def test_no_server_errors_with_a_family_members_session(
    web: Web, schema: schemathesis.BaseSchema, family: Member, record_property: Any
) -> None:
    found = Findings()
    ops = _operations(schema, SESSION_ENDERS | STREAMS)
    for op in ops:
        _fuzz(op, family, found)
    record_property("operations", len(ops))
    record_property("statuses", found.by_status)
    assert not found.errors, "\n\n".join(found.errors)
    assert found.calls >= len(ops)


def _step_up(web: Web, member: Member) -> None:
    client = web.client_for()
    client.cookies.update(member.cookies)
    code = web.clock.code(web.totp["fuzz-family"])
    r = client.post("/api/step-up", json={"totp": code}, headers=member.headers)
    assert r.status_code == 200, r.text


def test_no_server_errors_on_the_members_own_home_and_door(
    web: Web, schema: schemathesis.BaseSchema, family: Member, record_property: Any
) -> None:
    _step_up(web, family)
    found = Findings()
    for op in _operations(schema, SESSION_ENDERS | STREAMS):
        _fuzz(op, family, found, pinned=family.ids)
    record_property("statuses", found.by_status)
    assert not found.errors, "\n\n".join(found.errors)
    assert any(200 <= code < 300 for code in found.by_status), found.by_status


def test_logout_ends_the_fuzzed_session_without_error(web: Web) -> None:
    member = _login(web, "anna")
    client = web.client_for()
    client.cookies.update(member.cookies)
    assert client.post("/api/logout", headers=member.headers).status_code == 204
    assert client.get("/api/session").status_code == 401


# Found by the fuzzer: unlock and live view of a door that is offline answered 503, a server error
# that invites automatic retries; the door's state is the conflict, and nothing was sent.
def test_unlocking_an_offline_door_is_a_conflict_not_a_server_error(
    web: Web, family: Member
) -> None:
    offline = web.rig.add_device()
    _step_up(web, family)
    client = web.client_for()
    client.cookies.update(family.cookies)
    r = client.post(f"/api/doors/{offline}/unlock", json={"reason": "fuzz"}, headers=family.headers)
    assert r.status_code == 409, r.text
    assert "nothing was sent" in r.json()["detail"]
    for path in (f"/api/doors/{offline}/live", f"/api/doors/{offline}/live/stop"):
        r = client.post(path, headers=family.headers)
        assert r.status_code == 409, (path, r.text)


# Found by the fuzzer: secrets.compare_digest raised TypeError on a non-ASCII code (a 500).
@pytest.mark.parametrize("code", ["１２３４５６", "12345é", "ß23456", "\u00b9\u00b2\u00b3456"])
def test_a_non_ascii_second_factor_code_is_just_wrong(web: Web, family: Member, code: str) -> None:
    client = web.client_for()
    client.cookies.update(family.cookies)
    for path in ("/api/step-up", "/api/totp/confirm"):
        r = client.post(path, json={"totp": code}, headers=family.headers)
        assert r.status_code == 401, (path, r.text)
    client = web.client_for()
    r = client.post(
        "/api/login", json={"username": "fuzz-family", "password": PASSWORD, "totp": code}
    )
    assert r.status_code == 401, r.text


# Found by the fuzzer: a sequence number beyond 64 bits overflowed in the database driver.
@pytest.mark.parametrize("query", ["audit?before={n}", "events?after_seq={n}"])
def test_a_sequence_number_too_large_for_the_database_is_refused(
    web: Web, family: Member, query: str
) -> None:
    client = web.client_for()
    client.cookies.update(family.cookies)
    base = f"/api/homes/{web.rig.home}/"
    assert client.get(base + query.format(n=2**63 - 1)).status_code in (200, 403)
    r = client.get(base + query.format(n=2**63))
    assert r.status_code == 422, r.text
