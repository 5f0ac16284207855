"""Partner webhooks on the admin page: an admin picks from the hub's own event types,
adds one through the form (errors in the summary and by each field), sees it listed,
rotates its secret behind a confirmation and sees the new secret once with its grace
period, and deletes it. axe-core finds no serious or critical violation with the
section filled, the secret shown, the dialog open."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from hub.webhooks.catalogue import EVENT_TYPES
from hub.webhooks.secrets import read_secret
from hub.webhooks.subscriptions import get_subscription
from tests.browser.conftest import DESKTOP, Site

PARTNER = "Northshire Council"
URL = "https://partner.example.invalid/doorstep"  # never resolves: nothing is sent
WHO = f"{PARTNER} ({URL})"


def check(page: Any, state: str) -> None:
    violations = Axe().run(page).response["violations"]
    bad = [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in violations
           if v["impact"] in ("serious", "critical")]  # fmt: skip
    assert not bad, f"{state}: {bad}"


def listed(page: Any) -> list[dict[str, Any]]:
    """What the admin API says now (with the page's session: a GET needs no CSRF token)."""
    response = page.request.get("/api/admin/webhooks")
    assert response.ok
    return response.json()


def test_add_rotate_and_delete_a_partner_webhook(site: Site, open_page: Any, shots: Path) -> None:
    page = open_page(**DESKTOP)
    site.login(page, "adam", then="/admin")
    site.ready(page)
    section = page.locator("#webhooks-section")
    expect(section.get_by_text("No partner webhooks yet.")).to_be_visible()

    # The choices are the hub's catalogue (from the API, not a copy in the page), each a
    # labelled checkbox in the fieldset.
    shown = page.eval_on_selector_all(
        "#webhook-types #webhook-type-list input[type=checkbox]",
        "boxes => boxes.map((b) => [b.value, [...b.labels].map((l) => l.textContent)])",
    )
    assert shown == [[t, [e.description]] for t, e in EVENT_TYPES.items()]

    # Nothing filled in: the summary links each problem, each field says its own.
    page.click("#webhook-add")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-list li")).to_have_count(3)
    expect(page.locator("#webhook-partner-error")).to_contain_text("Enter the partner's name")
    expect(page.locator("#webhook-types-error")).to_contain_text("Choose at least one event")
    assert "webhook-url-error" in (page.get_attribute("#webhook-url", "aria-describedby") or "")
    check(page, "webhook form with errors")

    # Every home is more than adam administers: the API's refusal lands by the picker.
    page.get_by_label("Partner", exact=True).fill(PARTNER)
    page.get_by_label("Address (URL)").fill(URL)
    page.get_by_label("Someone rang the doorbell").check()
    page.get_by_label("The door opened").check()
    page.select_option("#webhook-home", "")
    page.click("#webhook-add")
    expect(page.locator("#webhook-home-error")).to_contain_text("you do not administer every home")
    assert listed(page) == []

    page.select_option("#webhook-home", site.home)
    page.click("#webhook-add")
    panel = page.locator("#webhook-secret-panel")
    expect(panel).to_be_visible()
    expect(panel).to_be_focused()
    expect(panel).to_contain_text("Copy it now: it will not be shown again.")
    first = page.inner_text("#webhook-secret")
    assert first.startswith("whsec_")
    expect(page.locator("#error-summary")).to_be_hidden()
    row = page.locator("#webhooks tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(PARTNER)
    expect(row).to_contain_text(URL)
    expect(row).to_contain_text("The door opened")
    expect(row).to_contain_text("Margaret's home")
    expect(row).to_contain_text("No failed deliveries.")
    [sub] = listed(page)
    assert (sub["partner"], sub["home"]) == (PARTNER, site.home)
    assert sub["event_types"] == ["doorstep.door.opened", "doorstep.ring"]
    assert sub["previous_secret_until"] is None
    assert "secret" not in sub  # the list never carries it
    page.get_by_role("button", name="I have copied it – hide it").click()
    expect(panel).to_be_hidden()
    assert first not in page.content()

    # Rotating asks first; "Cancel" (or Escape) leaves the secret as it was.
    rotate = page.get_by_role("button", name=f"Rotate the secret of {WHO}")
    rotate.click()
    dialog = page.locator("#webhook-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Rotate the signing secret?")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert listed(page)[0]["previous_secret_until"] is None

    rotate.click()
    check(page, "rotation dialog")
    dialog.get_by_role("button", name="Rotate secret").click()
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("New signing secret for Northshire Council")
    expect(panel).to_contain_text("it will not be shown again")
    expect(page.locator("#webhook-secret-grace")).to_contain_text(
        "Grace period: the old secret also signs requests until"
    )
    second = page.inner_text("#webhook-secret")
    assert second.startswith("whsec_")
    assert second != first
    expect(row).to_contain_text("Secret rotated")
    [sub] = listed(page)
    until = datetime.fromisoformat(sub["previous_secret_until"])
    added = datetime.fromisoformat(sub["created_at"])  # the app's clock, a moment ago
    assert timedelta(hours=24) <= until - added < timedelta(hours=25)  # the default grace
    with site.rig.db.read_session() as s:
        stored = get_subscription(s, sub["id"])
        assert read_secret(s, stored.id, stored.secret) == second  # what the page showed

    check(page, "webhooks listed, new secret shown")
    page.screenshot(path=str(shots / "admin-webhooks-desktop.png"), full_page=True)

    # Shown once: a reload has the rotation, not the secret.
    page.reload()
    site.ready(page)
    expect(panel).to_be_hidden()
    expect(row).to_contain_text("Secret rotated")
    assert second not in page.content()

    page.get_by_role("button", name=f"Delete the webhook to {WHO}").click()
    expect(dialog).to_contain_text("This cannot be undone.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(1)
    page.get_by_role("button", name=f"Delete the webhook to {WHO}").click()
    dialog.get_by_role("button", name="Delete webhook").click()
    expect(page.locator("#notice")).to_contain_text("Webhook to Northshire Council deleted.")
    expect(row).to_have_count(0)
    expect(section.get_by_text("No partner webhooks yet.")).to_be_visible()
    expect(page.locator("#webhooks-heading")).to_be_focused()
    assert listed(page) == []
    check(page, "webhooks section after the deletion")
