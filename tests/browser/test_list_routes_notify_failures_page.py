"""The admin page's "Notifications that failed" shows the newest 100, then older ones a
page at a time on request, each once. It used to stop at 100 with no way to the rest."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from hub.notify.route import Draft, row_of
from hub.notify.store import add_recipient, claim_delivery, record_attempt, save_notification
from protocol import utcnow
from tests.browser.conftest import DESKTOP, Site

FAILED = 130  # more than the first 100


def test_failed_notifications_page_on(site: Site, open_page: Any) -> None:
    t0, person = utcnow() - timedelta(hours=1), site.rig.family
    with site.rig.db.session() as s:
        for i in range(FAILED):
            at, key = t0 + timedelta(seconds=i // 3), f"nfp:{i}"  # some at the same instant
            draft = Draft(key, "device_offline", site.home, site.device, True, "Off", "b", "/", "t")
            save_notification(s, row_of(draft, at))
            add_recipient(
                s, key=key, person_id=person, device_id=site.device, kind="device_offline",
                skipped=None, at=at,
            )  # fmt: skip
            claim_delivery(s, key=key, person_id=person, channel="govuk_sms", target="p", at=at)
            record_attempt(
                s, key=key, person_id=person, channel="govuk_sms", target="p",
                status="failed", attempts=3, error=key, at=at,
            )  # fmt: skip

    page = open_page(**DESKTOP)
    site.login(page, "adam", then="/admin")
    site.ready(page)
    rows = page.locator("#notify-failures tbody tr")
    expect(rows).to_have_count(100)
    more = page.locator("#notify-failures-more")
    while more.is_visible():
        shown = rows.count()
        more.click()
        expect(rows).not_to_have_count(shown)
    errors = page.eval_on_selector_all(
        "#notify-failures tbody tr", "rows => rows.map((r) => r.cells[5].textContent)"
    )
    assert sorted(errors) == sorted(f"nfp:{i}" for i in range(FAILED))
    assert errors[0] == f"nfp:{FAILED - 1}"  # newest first
