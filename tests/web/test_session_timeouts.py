"""Sessions end after their idle and absolute timeouts, measured on the app's clock."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient

from mobile_api.app import create_app
from mobile_api.settings import WebSettings
from tests.web.conftest import PASSWORD, Clock


def _client(web, settings: WebSettings) -> tuple[TestClient, Clock]:
    clock = Clock()
    app = create_app(web.rig.hub, settings, passwords=web.passwords, clock=clock)
    client = TestClient(app, base_url="https://testserver")
    # A TOTP step is accepted once per person: share the module clock's progress.
    code = web.clock.code(web.totp["anna"])
    clock.offset = web.clock.offset
    r = client.post("/api/login", json={"username": "anna", "password": PASSWORD, "totp": code})
    assert r.status_code == 200, r.text
    return client, clock


def _at(client: TestClient, clock: Clock, seconds_after_login: float, base: timedelta) -> int:
    clock.offset = base + timedelta(seconds=seconds_after_login)
    return client.get("/api/session").status_code


def test_use_keeps_a_session_alive_and_idleness_ends_it(web) -> None:
    client, clock = _client(web, WebSettings(idle_timeout_s=60, absolute_timeout_s=3600))
    base = clock.offset
    assert _at(client, clock, 50, base) == 200
    # 100 s after login but only 50 s after the last use: still alive, so use was recorded.
    assert _at(client, clock, 100, base) == 200
    assert _at(client, clock, 165, base) == 401  # 65 s idle
    assert _at(client, clock, 166, base) == 401  # and it stays ended


def test_a_session_ends_at_its_absolute_timeout_however_busy(web) -> None:
    client, clock = _client(web, WebSettings(idle_timeout_s=60, absolute_timeout_s=300))
    base = clock.offset
    for t in range(40, 300, 40):
        assert _at(client, clock, t, base) == 200, t
    assert _at(client, clock, 305, base) == 401


def test_a_code_is_not_a_password(web) -> None:
    """The TOTP check sits behind the password: a right code with a wrong password fails."""
    client = TestClient(
        create_app(web.rig.hub, WebSettings(), passwords=web.passwords, clock=Clock()),
        base_url="https://testserver",
    )
    code = pyotp.TOTP(web.totp["anna"]).now()
    r = client.post("/api/login", json={"username": "anna", "password": "wrong", "totp": code})
    assert r.status_code == 401
