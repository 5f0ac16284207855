"""A real hub (private broker, real database) with the web app in front of it."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pyotp
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hub.storage import add_membership, create_person
from hub.storage.accounts import Passwords, confirm_totp, create_account, start_totp
from hub.storage.models_registry import Grant, Role
from mobile_api.app import create_app
from mobile_api.settings import WebSettings
from protocol import utcnow
from tests.fixtures.database import free_port
from tests.hubrt.rig import HubRig

PASSWORD = "correct horse battery staple"


@dataclass
class Web:
    rig: HubRig
    client_for: Callable[[], TestClient]
    passwords: Passwords
    totp: dict[str, str]
    clock: Clock
    app: FastAPI


def fast_passwords() -> Passwords:
    # Argon2id with small costs: the tests exercise the logic, not the cost.
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


@pytest.fixture(scope="module")
def web(module_database, plain_broker) -> Iterator[Web]:
    rig = HubRig(module_database, plain_broker, unlocks_per_minute=100).start()
    passwords = fast_passwords()
    totp: dict[str, str] = {}
    now = utcnow()
    with rig.db.session() as s:
        for name, person in (
            ("anna", rig.family),
            ("officer", rig.telecare),
            ("stranger", rig.stranger),
        ):
            create_account(s, passwords, person_id=person, username=name, password=PASSWORD, at=now)
            totp[name] = start_totp(s, person)
            assert confirm_totp(s, person, pyotp.TOTP(totp[name]).now(), at=now)
    settings = WebSettings(max_failures_per_account=3, max_failures_per_ip=1000)
    clock = Clock()
    app = create_app(rig.hub, settings, passwords=passwords, clock=clock)

    def client_for() -> TestClient:
        return TestClient(app, base_url="https://testserver")

    yield Web(rig, client_for, passwords, totp, clock, app)
    rig.stop()


class Clock:
    """Real time plus an offset the tests move on: each TOTP step is accepted only once."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def code(self, secret: str) -> str:
        self.offset += timedelta(seconds=30)
        return pyotp.TOTP(secret).at(self())


def wait_online(rig: HubRig, device: str) -> None:
    rig.wait_online(device)


def make_person(web: Web, name: str, role: Role, home: str, grants: tuple[Grant, ...] = ()) -> str:
    """A person with an account (password PASSWORD, TOTP enrolled) holding ``role`` in ``home``."""
    now = utcnow()
    with web.rig.db.session() as s:
        person = create_person(s, display_name=name.title(), at=now).id
        add_membership(s, person_id=person, home_id=home, role=role, at=now, grants=grants)
        create_account(s, web.passwords, person_id=person, username=name, password=PASSWORD, at=now)
        web.totp[name] = start_totp(s, person)
        assert confirm_totp(s, person, pyotp.TOTP(web.totp[name]).now(), at=now)
    return person


def log_in(web: Web, name: str, *, step_up: bool = False) -> tuple[TestClient, dict[str, str]]:
    """A logged-in client and the CSRF header to send with state changes."""
    client = web.client_for()
    r = client.post(
        "/api/login",
        json={"username": name, "password": PASSWORD, "totp": web.clock.code(web.totp[name])},
    )
    assert r.status_code == 200, r.text
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    if step_up:
        r = client.post("/api/step-up", headers=csrf, json={"totp": web.clock.code(web.totp[name])})
        assert r.status_code == 200, r.text
    return client, csrf


@pytest.fixture(scope="module")
def server(web: Web) -> Iterator[str]:
    """The app served by uvicorn on loopback in a thread (for SSE over real sockets)."""
    port = free_port()
    config = uvicorn.Config(
        web.app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def stream_cookie(web: Web, base: str, name: str) -> str:
    """A logged-in session's cookie for a live server. The cookie is Secure (HTTPS only);
    test servers speak plain HTTP on loopback, so tests carry the session id by hand."""
    r = httpx.post(
        f"{base}/api/login",
        json={"username": name, "password": PASSWORD, "totp": web.clock.code(web.totp[name])},
    )
    assert r.status_code == 200, r.text
    return r.headers["set-cookie"].split(";")[0]


def listen_stream(
    base: str, cookie: str, kind: str, got: queue.Queue, ready: threading.Event, *, once: bool
) -> None:
    """Put the data of each ``kind`` event of /api/stream into ``got`` (only the first
    with ``once``); ``ready`` is set when the hub feeds the stream. Ends when the server
    stops or nothing is heard for 15 s."""
    try:
        with httpx.stream(
            "GET", f"{base}/api/stream", headers={"Cookie": cookie},
            timeout=httpx.Timeout(10, read=15),
        ) as r:  # fmt: skip
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "ready":
                        ready.set()
                elif line.startswith("data: ") and event == kind:
                    got.put(json.loads(line[6:]))
                    if once:
                        return
    except (httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.ReadError):
        return
