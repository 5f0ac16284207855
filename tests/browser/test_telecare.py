"""A telecare officer on a desktop: the fleet table shows the door's health; pictures
and unlocking are refused, on the page and by the API behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from hub.storage import events_of, raise_alert
from hub.storage.models_commands import AlertKind
from protocol import utcnow
from tests.browser.conftest import DESKTOP, Site

FETCH = """async ([path, method]) => {
  const session = await (await fetch('/api/session')).json();
  const r = await fetch(path, {method, headers: {'X-CSRF-Token': session.csrf_token,
    'Content-Type': 'application/json'}, body: method === 'POST' ? '{}' : undefined});
  return r.status;
}"""


def test_fleet_shows_health_but_snapshots_and_unlock_are_refused(
    site: Site, open_page: Any, shots: Path
) -> None:
    silent = site.rig.add_device()  # registered, never connected: a door to worry about
    with site.rig.db.session() as s:
        raise_alert(s, AlertKind.DEVICE_OFFLINE, at=utcnow(), device_id=silent)
    page = open_page(**DESKTOP)
    site.login(page, "officer")
    page.wait_for_url("**/telecare")  # "/" sent the officer to the fleet by role
    row = page.locator(f"table#fleet tbody tr[data-device='{site.device}']")
    row.wait_for()
    assert row.get_attribute("data-health") == "online"
    cells = row.locator("td, th").all_inner_texts()
    assert "Margaret's home" in cells
    assert "Online" in [c.title() for c in cells]
    assert "snapshot" not in page.content().lower()
    worry = page.locator(f"table#fleet tbody tr[data-device='{silent}']")
    assert "device offline" in worry.inner_text().lower()
    page.screenshot(path=str(shots / "telecare-dashboard-desktop.png"), full_page=True)
    worry.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(f"tr[data-device='{silent}']")).to_contain_text("acknowledged")
    expect(page.locator("#notice")).to_contain_text("acknowledged")

    # On the door's page a ring shows without its picture and without an unlock button.
    page.goto(f"/homes/{site.home}")
    page.wait_for_selector("#door-summary", state="visible")
    site.wait_stream(page)
    site.board.ring()
    page.wait_for_selector("#ring-card", state="visible")
    assert page.get_attribute("#lock-state", "data-state") == "engaged"  # the door that rang
    assert page.is_visible("#ring-no-snapshot")
    assert page.locator("#ring-snapshot").get_attribute("src") is None
    assert page.is_hidden("button#unlock")
    assert page.is_hidden("button#unlock-now")

    # The API behind the page refuses too, whatever a crafted request tries.
    assert site.rig.wait_until(lambda: snapshot_of_last_ring(site) is not None)
    snapshot = snapshot_of_last_ring(site)
    assert page.evaluate(FETCH, [f"/api/snapshots/{snapshot}", "GET"]) == 403
    before = len(site.board.relay_changes)
    assert page.evaluate(FETCH, [f"/api/doors/{site.device}/unlock", "POST"]) == 403
    assert page.evaluate(FETCH, [f"/api/homes/{site.home}/events", "GET"]) == 403
    assert len(site.board.relay_changes) == before


def snapshot_of_last_ring(site: Site) -> str | None:
    with site.rig.db.read_session() as s:
        rings = [e for e in events_of(s, site.device) if e.kind == "ring"]
    return rings[-1].payload.get("snapshot_id") if rings else None


def test_admin_grant_lets_the_officer_see_pictures_then_takes_it_away(
    site: Site, open_page: Any
) -> None:
    admin = open_page(**DESKTOP)
    site.login(admin, "adam")
    admin.wait_for_url("**/admin")
    admin.wait_for_selector("#people tbody tr", state="attached")
    admin.select_option("#member-person", site.people["officer"])
    admin.select_option("#member-home", site.home)
    admin.select_option("#member-role", "telecare_officer")
    admin.select_option("#member-grant", "telecare_may_view_snapshots")
    admin.click("button#grant-add")
    officer_row = admin.locator("#people tbody tr", has_text="Officer")
    expect(officer_row).to_contain_text("telecare may view snapshots")

    page = open_page()
    site.login(page, "officer", then=f"/homes/{site.home}")
    page.wait_for_selector("#door-summary", state="visible")
    site.wait_stream(page)
    site.board.ring()
    page.wait_for_function("() => window.__doorstepMarks.some(m => m.kind === 'ring')")
    assert page.locator("#ring-snapshot").evaluate("i => i.naturalWidth") > 0
    assert page.is_hidden("button#unlock")  # pictures only: unlocking is another grant

    officer_row.get_by_role("button", name="Take away").click()
    expect(officer_row).not_to_contain_text("telecare may view snapshots")
    snapshot = snapshot_of_last_ring(site)
    assert page.evaluate(FETCH, [f"/api/snapshots/{snapshot}", "GET"]) == 403
