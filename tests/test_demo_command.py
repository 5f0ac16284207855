"""The README's first command ends in ``doorstep demo``: the whole system on one machine.

Runs the real command in a subprocess, as a person would, and plays the story through
the URLs it prints. Over HTTP: the family owner accepts the printed invitation and sets
up a code, the carer rings on the door simulator, the ring (with its snapshot) reaches
the hub, the owner steps up and unlocks, the simulator's relay is energised and the
door re-locks. In Chromium: a second family member joins through the invitation page,
signs in on the login page, sees the ring card when the simulator page's bell is
pressed, unlocks, and the simulator page shows the relay. Ctrl-C then stops everything
with no process left behind, and the next run works too.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from hub.storage.totp_sealing import is_sealed
from tests.fixtures.chromium import SCREENSHOTS
from tests.fixtures.demo_run import (
    DemoRun,
    Person,
    alive,
    code_at,
    process_tree,
    sim,
    totp_base_step,
    until,
)

PASSWORD = "a long demo passphrase"
UNLOCKED = "unlocked — relocking in 5 s"


def _printed(demo: DemoRun) -> dict[str, str]:
    return {
        "web": demo.value(r"web app:\s+(http://127\.0\.0\.1:\d+)/"),
        "sim": demo.value(r"door simulator:\s+(http://127\.0\.0\.1:\d+)/"),
        "home": demo.value(r"\(id ([0-9a-f-]{36})\)"),
        "family": demo.value(r"family member \(owner\):\s+(\S+/invite#\S+)"),
        "folder": demo.value(r"demo folder: (\S+)"),
    }


def _api_story(urls: dict[str, str], device: str) -> Person:
    """The family owner over HTTP: invitation, code, ring + snapshot, step-up, unlock."""
    web, sim_url, home = urls["web"], urls["sim"], urls["home"]
    anna = Person(web)
    token = urls["family"].split("#", 1)[1]
    body = {"token": token, "username": "anna", "password": PASSWORD, "display_name": "Anna"}
    assert anna.http.post("/api/invitations/accept", json=body).status_code == 201
    again = anna.http.post("/api/invitations/accept", json={**body, "username": "anna2"})
    assert again.status_code == 404, "an invitation must work only once"
    assert anna.login("anna", PASSWORD)["totp_enrolled"] is False
    totp = pyotp.TOTP(anna.post("/api/totp/enroll").json()["secret"])
    step = totp_base_step(totp)
    assert anna.post("/api/totp/confirm", {"totp": code_at(totp, step - 1)}).status_code == 200

    sim(sim_url, "/bell/ring", post=True)

    def ring_stored() -> dict[str, Any] | None:
        events = anna.get(f"/api/homes/{home}/events").json()
        return next((e for e in events if e["kind"] == "ring"), None)

    ring = until(ring_stored, 20, "the ring to reach the hub")
    assert ring["device"] == device
    snapshot = ring["payload"].get("snapshot_id")
    assert snapshot, ring
    jpeg = until(lambda: anna.get(f"/api/snapshots/{snapshot}"), 10, "the snapshot")
    assert jpeg.status_code == 200, jpeg.text[:200]
    assert jpeg.content[:2] == b"\xff\xd8", "a snapshot is a JPEG"

    refused = anna.post(f"/api/doors/{device}/unlock", {"reason": "test"})
    assert refused.status_code == 403, "an unlock needs a fresh second factor"
    assert anna.post("/api/step-up", {"totp": code_at(totp, step)}).status_code == 200
    before = sim(sim_url, "/state")["relay_changes"]
    resp = anna.post(f"/api/doors/{device}/unlock", {"reason": "Sarah, the carer"})
    assert resp.status_code == 202, resp.text
    command = resp.json()["command_id"]
    until(lambda: sim(sim_url, "/state")["relay_energised"], 10, "the relay to be energised")

    def final_status() -> str | None:
        status = anna.get(f"/api/commands/{command}").json()["status"]
        return status if status not in ("requested", "sent") else None

    assert until(final_status, 15, "the device's acknowledgement") == "acknowledged"
    until(lambda: not sim(sim_url, "/state")["relay_energised"], 15, "the door to re-lock")
    assert sim(sim_url, "/state")["relay_changes"] >= before + 2
    until(
        lambda: anna.get(f"/api/homes/{home}/doors").json()[0]["lock"] == "engaged",
        10,
        "the hub to show the lock engaged, as the device reported it",
    )
    return anna


def _browser_story(urls: dict[str, str], anna: Person, browser: Any) -> None:
    """A second family member, in Chromium, beside the door simulator page."""
    resp = anna.post(f"/api/homes/{urls['home']}/invitations", {"role": "family_member"})
    assert resp.status_code == 201, resp.text
    invite = f"{urls['web']}/invite#{resp.json()['token']}"
    contexts: list[Any] = []

    def page(**options: Any) -> Any:
        contexts.append(browser.new_context(**options))
        return contexts[-1].new_page()

    try:
        phone = page(viewport={"width": 390, "height": 844})
        phone.set_default_timeout(15_000)
        phone.goto(invite)
        phone.fill("#display_name", "Bea")
        phone.fill("#new-username", "bea")
        phone.fill("#new-password", PASSWORD)
        phone.click("button#accept")
        phone.wait_for_function("() => document.querySelector('#totp-secret').textContent")
        secret = phone.inner_text("#totp-secret").replace(" ", "")
        totp = pyotp.TOTP(secret)
        step = totp_base_step(totp)
        phone.fill("#confirm-code", code_at(totp, step - 1))
        phone.click("button#confirm")
        phone.wait_for_selector("#done-step", state="visible")

        # Sign in afresh on the login page, as she will next time.
        phone = page(viewport={"width": 390, "height": 844})
        phone.set_default_timeout(15_000)
        phone.goto(f"{urls['web']}/login")
        phone.fill("#username", "bea")
        phone.fill("#password", PASSWORD)
        phone.fill("#totp", code_at(totp, step))
        phone.click("button#login")
        phone.wait_for_url(f"**/homes/{urls['home']}")
        phone.wait_for_selector("#lock-state[data-state=engaged]")
        # Set on the server's "ready" event: the hub feeds this stream from now on.
        phone.wait_for_selector("body[data-stream=open]", state="attached")

        door = page(viewport={"width": 800, "height": 1100})
        door.set_default_timeout(15_000)
        door.goto(f"{urls['sim']}/")
        assert "SIMULATOR" in door.inner_text(".banner")
        door.wait_for_selector("#sim-link[data-state=online]")
        door.click("button#ring")

        phone.wait_for_selector("#ring-card", state="visible")
        phone.wait_for_function("() => document.querySelector('#ring-snapshot').naturalWidth")
        phone.click("button#unlock")
        phone.fill("#step-up-code", code_at(totp, step + 1))
        phone.click("button#unlock-confirm")
        door.wait_for_selector("#sim-relay[data-state=on]")
        door.wait_for_selector("#sim-lock[data-state=released]")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        door.screenshot(path=str(SCREENSHOTS / "door-simulator.png"), full_page=True)
        phone.wait_for_function(
            "t => (window.__doorstepMarks || []).some(m => m.kind == 'unlock' && m.text == t)",
            arg=UNLOCKED,
        )
        door.wait_for_selector("#sim-relay[data-state=off]")
        phone.wait_for_function(
            "() => document.querySelector('#unlock-status').textContent === 'locked'"
        )
    finally:
        for context in contexts:
            context.close()


def _second_factors_are_sealed(database: Path) -> None:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        stored = [row[0] for row in db.execute("SELECT totp_secret FROM accounts")]
    assert len(stored) >= 2, stored  # anna and bea enrolled
    assert all(secret and is_sealed(secret) for secret in stored), "a TOTP secret is unsealed"


def _stop_and_check_nothing_left(demo: DemoRun) -> None:
    tree = process_tree(demo.proc.pid)
    assert len(tree) >= 3, f"expected broker, hub + web app and door agent, found {tree}"
    rc = demo.stop()
    assert rc == 0, demo.output
    assert demo.output.strip().endswith("stopped."), demo.output
    left = [pid for pid, started in tree if alive(pid, started)]
    assert left == [], f"the demo left processes {left} running:\n{demo.output}"


@pytest.mark.timeout(300)
def test_demo_plays_the_whole_story_then_stops_clean_and_runs_again(browser: Any) -> None:
    demo = DemoRun()
    try:
        demo.wait_for("press Ctrl-C to stop")
        urls = _printed(demo)
        invites = re.findall(r"(http://127\.0\.0\.1:\d+/invite#[\w-]{40,})", demo.output)
        assert len(set(invites)) == 3, demo.output  # family owner, carer, telecare officer

        # The simulator is marked as one, and only its own page may press its buttons.
        page = httpx.get(f"{urls['sim']}/", timeout=5)
        assert page.status_code == 200
        assert "SIMULATOR" in page.text
        foreign = httpx.post(f"{urls['sim']}/bell/ring", headers={"Origin": "http://evil.test"})
        assert foreign.status_code == 403
        state = sim(urls["sim"], "/state")
        assert state["connected"]
        assert state["simulator"]
        assert not state["relay_energised"]

        anna = _api_story(urls, state["device"])
        _browser_story(urls, anna, browser)
        _second_factors_are_sealed(Path(urls["folder"]) / "hub" / "hub.sqlite3")

        _stop_and_check_nothing_left(demo)
        assert not Path(urls["folder"]).exists(), "a clean stop removes the demo folder"
    finally:
        demo.kill()

    # Running it again works: a fresh deployment on fresh ports.
    second = DemoRun()
    try:
        second.wait_for("press Ctrl-C to stop")
        assert second.value(r"door:\s+(\S+)") != state["device"], "each run makes a new door"
        _stop_and_check_nothing_left(second)
    finally:
        second.kill()


@pytest.mark.timeout(60)
def test_demo_refuses_a_taken_port_and_says_how_to_fix_it() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        demo = DemoRun("--web-port", str(port))
        assert demo.wait_exit(30) == 1, demo.output
    assert f"port {port} on 127.0.0.1 (--web-port) is already in use" in demo.output
    assert "--web-port" in demo.output, "the message must say how to fix it"


@pytest.mark.timeout(90)
def test_demo_children_do_not_outlive_a_killed_demo() -> None:
    """Even SIGKILL (no chance to clean up) leaves no broker, hub or door agent behind."""
    demo = DemoRun()
    try:
        demo.wait_for("press Ctrl-C to stop")
        folder = Path(demo.value(r"demo folder: (\S+)"))
        tree = process_tree(demo.proc.pid)
        assert len(tree) >= 3, tree
        demo.proc.send_signal(signal.SIGKILL)
        demo.wait_exit(10)
        until(
            lambda: not [pid for pid, started in tree if alive(pid, started)],
            15,
            "the demo's children to end with it",
        )
    finally:
        demo.kill()
    shutil.rmtree(folder, ignore_errors=True)
