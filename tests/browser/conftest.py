"""The real app served by uvicorn over a real hub and edge agent, driven by a real
headless Chromium (/usr/bin/chromium through Playwright; never `playwright install`).

One browser per session, one server (and hub, broker link, simulated door) per module.

    def test_x(site: Site, open_page) -> None:
        page = open_page()                   # a fresh context, phone-sized by default
        site.login(page, "anna")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import expect

from hardware.simulated import SimulatedBoard
from hub.storage import add_membership, create_person
from hub.storage.accounts import confirm_totp, create_account, start_totp
from hub.storage.models_registry import Role
from hub.storage.visits import add_window
from mobile_api.app import create_app
from mobile_api.settings import WebSettings
from protocol import utcnow
from tests.fixtures.chromium import SCREENSHOTS
from tests.fixtures.database import _new_database
from tests.hubrt.rig import HubRig
from tests.web.conftest import PASSWORD, Clock, fast_passwords, wait_online

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
TIMEOUT_MS = 10_000

# name -> (display name, role in the rig's home); anna and officer come with the rig.
EXTRA_PEOPLE = {
    "olive": ("Olive", Role.FAMILY_OWNER),
    "bea": ("Bea", Role.CARER),
    "adam": ("Adam", Role.ADMIN),
}


class ServerThread:
    """uvicorn on a socket bound before start (no port race), in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, "uvicorn did not start in 10 s"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@dataclass
class Site:
    url: str
    rig: HubRig
    clock: Clock
    device: str
    board: SimulatedBoard
    totp: dict[str, str] = field(default_factory=dict)
    people: dict[str, str] = field(default_factory=dict)
    visit: str = ""

    @property
    def home(self) -> str:
        return self.rig.home

    def code(self, name: str) -> str:
        return self.clock.code(self.totp[name])

    def login(self, page: Any, name: str, then: str = "/") -> None:
        page.goto(f"/login?next={then}")
        page.fill("#username", name)
        page.fill("#password", PASSWORD)
        page.fill("#totp", self.code(name))
        page.click("button#login")
        page.wait_for_url(lambda url: "/login" not in url)

    @staticmethod
    def ready(page: Any) -> None:
        """Wait until the page has loaded what it shows (body[data-ready])."""
        page.wait_for_selector("body[data-ready]", state="attached")
        state = page.get_attribute("body", "data-ready")
        assert state == "yes", f"{page.url}: {page.inner_text('#error-summary')}"

    @staticmethod
    def wait_stream(page: Any) -> None:
        """Wait until the page's live stream is fed by the hub (the server's "ready")."""
        page.wait_for_selector("body[data-stream=open]", state="attached")


def show_every_older_page(page: Any, table: str) -> None:
    """Click the page's "Show older" button (#older) until no older page is left; each
    click must add rows to ``table`` before the next."""
    rows = page.locator(f"{table} tbody tr")
    older = page.locator("button#older")
    while older.is_visible():
        shown = rows.count()
        older.click()
        expect(rows).not_to_have_count(shown)
    expect(page.locator("#older-status")).to_contain_text("older")


def _account(site: Site, s: Any, passwords: Any, name: str, person: str) -> None:
    now = utcnow()
    create_account(s, passwords, person_id=person, username=name, password=PASSWORD, at=now)
    site.totp[name] = start_totp(s, person)
    assert confirm_totp(s, person, pyotp.TOTP(site.totp[name]).now(), at=now)
    site.people[name] = person


def visit_around_now(s: Any, site: Site) -> str:
    """Bea's visit today, an hour either side of now (home time), so she is expected."""
    local = datetime.now(ZoneInfo("Europe/London"))
    start = max(local - timedelta(hours=1), local.replace(hour=0, minute=0))
    end = min(local + timedelta(hours=1), local.replace(hour=23, minute=59))
    window = add_window(
        s,
        home_id=site.home,
        carer_id=site.people["bea"],
        agency="Helping Hands",
        on_date=local.date(),
        start=clock_time(start.hour, start.minute),
        end=clock_time(end.hour, end.minute),
        tolerance_min=15,
        created_by=site.people["olive"],
        at=utcnow(),
    )
    return window.id


@pytest.fixture(scope="module")
def site(request: pytest.FixtureRequest, plain_broker: Any) -> Iterator[Site]:
    # SQLite only: these tests are about the pages; the storage suite covers PostgreSQL.
    with _new_database(request, "sqlite") as db:
        rig = HubRig(db, plain_broker, unlocks_per_minute=100).start()
        server: ServerThread | None = None
        try:
            device = rig.add_device()
            _agent, board = rig.agent(device)
            board.visitor = True  # someone stands in the camera's view
            wait_online(rig, device)
            clock = Clock()
            passwords = fast_passwords()
            site = Site("", rig, clock, device, board)
            with rig.db.session() as s:
                _account(site, s, passwords, "anna", rig.family)
                _account(site, s, passwords, "officer", rig.telecare)
                for name, (display, role) in EXTRA_PEOPLE.items():
                    person = create_person(s, display_name=display, at=utcnow()).id
                    add_membership(s, person_id=person, home_id=rig.home, role=role, at=utcnow())
                    _account(site, s, passwords, name, person)
                site.visit = visit_around_now(s, site)
            settings = WebSettings(max_failures_per_account=50, max_failures_per_ip=1000)
            app = create_app(rig.hub, settings, passwords=passwords, clock=clock)
            server = ServerThread(app).start()
            site.url = f"http://127.0.0.1:{server.port}"
            yield site
        finally:
            if server is not None:
                server.stop()
            rig.stop()


@pytest.fixture
def open_page(site: Site, browser: Any) -> Iterator[Any]:
    """open_page(**context) -> a page in a fresh context (its own cookies), phone-sized
    by default; all are closed after the test."""
    contexts: list[Any] = []

    def open_(**context: Any) -> Any:
        options = {**PHONE, "base_url": site.url, "service_workers": "block", **context}
        ctx = browser.new_context(**options)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        return page

    yield open_
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
