"""The audit log page shows the newest 100 entries, then older ones a page at a time
on request, each once. It used to stop at the first 100 with no way to the rest."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from hub.audit import AuditAction, NewEntry, append_many, person_ref, ref
from hub.audit.actions import RefKind
from protocol import utcnow
from tests.browser.conftest import Site, show_every_older_page

EXTRA = 130  # more than the page's first 100


def test_audit_page_reaches_older_entries(site: Site, open_page: Any) -> None:
    now, home = utcnow(), ref(RefKind.HOME, site.home)
    with site.rig.db.session() as s:
        entries = [
            NewEntry(AuditAction.RETENTION_CHANGED, person_ref(site.rig.family), now, [home])
            for _ in range(EXTRA)
        ]
        append_many(s, entries)

    page = open_page()
    site.login(page, "anna", then=f"/homes/{site.home}/audit")
    site.ready(page)
    # Every entry of the home, as the API lists them.
    wanted = page.evaluate(
        """async (home) => {
          const r = await fetch(`/api/homes/${home}/audit?limit=1000`);
          return (await r.json()).map((e) => String(e.seq));
        }""",
        site.home,
    )
    assert len(wanted) >= EXTRA
    rows = page.locator("table#audit tbody tr")
    expect(rows).to_have_count(100)
    show_every_older_page(page, "table#audit")
    shown = page.eval_on_selector_all(
        "table#audit tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
    )
    assert shown == wanted
