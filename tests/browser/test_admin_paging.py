"""The admin page shows long lists a page at a time: "Show more devices" adds the next page
(from the API's Link header) to the table and the device picker, then goes away."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import expect

from hub.storage import register_device
from protocol import utcnow
from protocol.signing import public_key_pem
from tests.browser.conftest import DESKTOP, Site

LOOSE = 230  # doors in no home: every admin sees them, so adam sees these and the rig's door


def test_show_more_pages_through_every_device(site: Site, open_page: Any) -> None:
    pem = public_key_pem(Ed25519PrivateKey.generate().public_key()).decode()
    with site.rig.db.session() as s:
        for i in range(LOOSE):
            register_device(
                s, device_id=f"spare-{i:04d}", name=f"Spare {i}", public_key_pem=pem, at=utcnow()
            )
    page = open_page(**DESKTOP)
    site.login(page, "adam", then="/admin")
    site.ready(page)
    rows = page.locator("#devices tbody tr")
    more = page.get_by_role("button", name="Show more devices")
    expect(rows).to_have_count(100)
    assert page.locator("#device-pick option").count() == 100
    more.click()
    expect(rows).to_have_count(200)  # waits (no string evaluation: the CSP forbids it)
    more.click()
    expect(rows).to_have_count(LOOSE + 1)
    expect(more).to_be_hidden()
    shown = page.locator("#devices tbody tr td:first-child").all_inner_texts()
    assert len(set(shown)) == LOOSE + 1
    assert page.locator("#device-pick option").count() == LOOSE + 1
    violations = Axe().run(page).response["violations"]
    assert [v["id"] for v in violations if v["impact"] in ("serious", "critical")] == []
