"""Carers' photos in the browser: the carer adds and removes their own with consent on
/carer; the family owner records a carer's consent and adds one on the carers page.
Nothing goes without the ticked box; the pages stay free of serious axe violations."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from hub.carer_photos import photo_of
from tests.browser.conftest import Site
from tests.browser.test_accessibility import check
from tests.hub.test_carer_photos import photo

PICTURE = {"name": "me.png", "mimeType": "image/png", "buffer": photo(320, 240, ".png")}


def stored(site: Site, carer: str) -> Any:
    with site.rig.db.read_session() as s:
        row = photo_of(s, site.home, carer)
        return None if row is None else (row.consent_by.value, row.consent_statement)


def loaded(page: Any, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s); "
        "return i && i.complete && i.naturalWidth > 0; }",
        arg=selector,
    )


def test_a_carer_adds_and_removes_their_own_photo(site: Site, open_page: Any) -> None:
    bea = site.people["bea"]
    page = open_page()
    site.login(page, "bea", then="/carer")
    site.ready(page)
    page.wait_for_selector("#my-photos", state="visible")
    page.set_input_files("#my-photo-0", PICTURE)
    page.click("#my-photos button[type=submit]")  # the consent box not ticked
    expect(page.locator("#error-summary")).to_contain_text("Tick the box to agree")
    assert stored(site, bea) is None
    check(Axe(), page, "carer photo with errors")
    page.check("#my-consent-0")
    page.click("#my-photos button[type=submit]")
    loaded(page, "#my-photos img[alt='Your photo']")
    assert stored(site, bea) == ("carer", None)
    page.click("#photo-remove-0")
    expect(page.locator("#my-consent-0")).to_be_visible()  # the form is back
    assert stored(site, bea) is None


def test_the_owner_adds_a_photo_with_a_statement_of_consent(site: Site, open_page: Any) -> None:
    bea = site.people["bea"]
    page = open_page()
    site.login(page, "olive", then=f"/homes/{site.home}/carers")
    site.ready(page)
    page.wait_for_selector("#photos", state="visible")
    page.select_option("#photo-carer", bea)
    page.set_input_files("#photo-file", PICTURE)
    page.check("#photo-consent")
    page.click("button#photo-upload")  # no statement yet
    expect(page.locator("#error-summary")).to_contain_text("Say how the carer agreed")
    assert stored(site, bea) is None
    statement = "Bea agreed in person at the home on 3 March"
    page.fill("#photo-statement", statement)
    page.click("button#photo-upload")
    loaded(page, "#carer-photo-list img[alt='Photo of Bea']")
    assert stored(site, bea) == ("family_owner", statement)
    check(Axe(), page, "carers page with a photo")
    page.click("#carer-photo-list button")
    expect(page.locator("#carer-photo-list img")).to_have_count(0)
    assert stored(site, bea) is None
