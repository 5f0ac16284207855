"""The door history page on a phone: today's events on top, older ones a page at a
time on request, each once. A busy door used to show only its first 100 events."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

from hub.storage import events_of
from tests.browser.conftest import Site, show_every_older_page

TOGGLES = 60  # 120 door events: more than the page's first 100


def _stored(site: Site) -> list[str]:
    with site.rig.db.read_session() as s:
        return [f"{e.device_id}:{e.seq}" for e in events_of(s, site.device, limit=10_000)]


def test_newest_first_then_older_pages_each_event_once(site: Site, open_page: Any) -> None:
    before = len(_stored(site))
    for _ in range(TOGGLES):
        site.board.open_door()
        site.board.close_door()
        time.sleep(0.002)
    assert site.rig.wait_until(lambda: len(_stored(site)) >= before + 2 * TOGGLES, timeout=30)
    # One door: its own numbering is the order things happened there.
    newest_first = sorted(_stored(site), key=lambda k: int(k.rsplit(":", 1)[1]), reverse=True)

    page = open_page()
    site.login(page, "anna", then=f"/homes/{site.home}/events")
    site.ready(page)
    rows = page.locator("table#events tbody tr")
    expect(rows).to_have_count(100)
    expect(rows.first).to_contain_text("The door was closed")
    show_every_older_page(page, "table#events")
    shown = page.eval_on_selector_all(
        "table#events tbody tr", "rows => rows.map(r => r.dataset.event)"
    )
    assert shown == newest_first
