"""axe-core (bundled by axe-playwright-python: nothing downloaded at test time) on
every page, in the states people meet: no serious or critical violation anywhere.

Walking the pages also runs the flows around them: accepting an invitation and
enrolling the authenticator, a carer's "I'm here", a family owner's invitation link.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from hub.storage import add_membership
from hub.storage.accounts import create_invitation
from hub.storage.models_registry import Role
from protocol import utcnow
from tests.browser.conftest import DESKTOP, Site
from tests.web.conftest import PASSWORD

BAD = ("serious", "critical")


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def check(axe: Axe, page: Any, state: str) -> None:
    results = axe.run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in BAD]
    found = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in bad]
    assert not found, f"{state}: {found}"


def test_login_page_and_its_error_summary(site: Site, open_page: Any, axe: Axe) -> None:
    page = open_page()
    page.goto("/login")
    site.ready(page)
    check(axe, page, "login")
    page.click("button#login")
    page.wait_for_selector("#error-summary", state="visible")
    assert page.evaluate("() => document.activeElement.id") == "error-summary"
    check(axe, page, "login with errors")


def test_invitation_accept_and_totp_enrolment(site: Site, open_page: Any, axe: Axe) -> None:
    with site.rig.db.session() as s:
        _row, token = create_invitation(
            s, home_id=site.home, role=Role.CARER, invited_by=site.people["olive"], at=utcnow()
        )
    page = open_page()
    page.goto(f"/invite#{token}")
    page.wait_for_selector("#accept-step", state="visible")
    assert token not in page.url  # the fragment leaves the address bar at once
    check(axe, page, "invite: accept")
    page.fill("#display_name", "Cara")
    page.fill("#new-username", "cara")
    page.fill("#new-password", PASSWORD)
    page.click("button#accept")
    page.wait_for_selector("#enrol-step", state="visible")
    qr = page.locator("#qr img")
    expect(qr).to_be_visible()
    assert qr.evaluate("i => i.decode().then(() => i.naturalWidth)") > 0
    check(axe, page, "invite: enrol")
    secret = page.inner_text("#totp-secret").replace(" ", "")
    assert page.get_attribute("#totp-uri", "href").startswith("otpauth://totp/")
    page.fill("#confirm-code", pyotp.TOTP(secret).at(site.clock()))
    page.click("button#confirm")
    page.wait_for_selector("#done-step", state="visible")
    check(axe, page, "invite: done")


def test_choice_page_for_several_roles(site: Site, open_page: Any, axe: Axe) -> None:
    with site.rig.db.session() as s:
        add_membership(
            s,
            person_id=site.people["adam"],
            home_id=site.rig.other_home,
            role=Role.TELECARE_OFFICER,
            at=utcnow(),
        )
    page = open_page()
    site.login(page, "adam")
    site.ready(page)
    assert {"/admin", "/telecare"} <= set(
        page.locator("#choices a").evaluate_all("links => links.map(a => a.pathname)")
    )
    check(axe, page, "index with choices")


def test_ring_screen_with_a_ring_and_the_unlock_dialog(
    site: Site, open_page: Any, axe: Axe
) -> None:
    page = open_page()
    site.login(page, "anna", then=f"/homes/{site.home}")
    site.ready(page)
    check(axe, page, "home")
    site.wait_stream(page)
    site.board.ring()
    page.wait_for_function("() => window.__doorstepMarks.some(m => m.kind === 'ring')")
    expect(page.locator("#expected")).to_contain_text("Bea")  # her visit is now
    check(axe, page, "home with a ring")
    page.click("button#unlock")
    page.wait_for_selector("dialog#unlock-dialog[open]")
    check(axe, page, "unlock dialog")


def test_carer_checks_in(site: Site, open_page: Any, axe: Axe, shots: Path) -> None:
    page = open_page()
    site.login(page, "bea")
    page.wait_for_url("**/carer")
    here = page.locator(f"#here-{site.visit}")
    here.wait_for()
    check(axe, page, "carer")
    here.click()
    expect(page.locator("#notice")).to_contain_text("now knows you are at the door")
    page.screenshot(path=str(shots / "carer-phone.png"), full_page=True)
    check(axe, page, "carer checked in")


PAGES: dict[str, tuple[str, str, str]] = {
    # name: (who, path, what must be on it once loaded)
    "events": ("olive", "/homes/{home}/events", "main h1"),
    "carers": ("olive", "/homes/{home}/carers", "#visits tbody tr"),
    "audit": ("olive", "/homes/{home}/audit", "#audit tbody tr"),
    "telecare": ("officer", "/telecare", "#fleet tbody tr"),
    "admin": ("adam", "/admin", "#people tbody tr"),
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page(name: str, site: Site, open_page: Any, axe: Axe) -> None:
    who, path, ready = PAGES[name]
    page = open_page(**DESKTOP) if name in ("telecare", "admin") else open_page()
    site.login(page, who, then=path.format(home=site.home))
    site.ready(page)
    # What the page lists may still be on its way into the hub (the door's first reports
    # are ingested in the background): the page shows a snapshot, so load it again.
    for _ in range(20):
        if page.locator(ready).count() > 0:
            break
        page.wait_for_timeout(500)
        page.reload()
        site.ready(page)
    assert page.locator(ready).count() > 0
    check(axe, page, name)


def test_family_owner_invites_a_family_member(site: Site, open_page: Any, axe: Axe) -> None:
    page = open_page()
    site.login(page, "olive", then=f"/homes/{site.home}/carers")
    site.ready(page)
    page.click("button#invite-button")
    page.wait_for_selector("#error-summary", state="visible")
    check(axe, page, "carers with errors")
    page.fill("#invite-name", "Fred")
    page.check("#role-family")
    page.click("button#invite-button")
    page.wait_for_selector("#invite-result", state="visible")
    assert "/invite#" in page.inner_text("#invite-link")
    check(axe, page, "carers with an invitation")


def test_the_check_catches_a_bad_page(site: Site, open_page: Any, axe: Axe) -> None:
    page = open_page()
    page.goto("/login")  # under the app's CSP, as the real pages are
    page.evaluate(
        """() => { document.querySelector('main').insertAdjacentHTML('beforeend',
        '<img src="/static/icons/icon-192.png"><input type="text"><a href="/x"></a>'); }"""
    )
    with pytest.raises(AssertionError, match="image-alt"):
        check(axe, page, "a page with faults")
