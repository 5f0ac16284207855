"""The admin page's webhook rows count every dead delivery of their own subscription.
They used to count within the newest 200 dead letters of all subscriptions together, so
a partner that failed a lot hid another's failures ("No failed deliveries.")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from hub.storage.models_webhooks import DEAD, WebhookDelivery, WebhookOutboxRow
from hub.webhooks.subscriptions import add_subscription
from protocol import utcnow
from tests.browser.conftest import DESKTOP, Site


def _failing(site: Site, partner: str, dead: int, ago: timedelta) -> str:
    """A subscription of the site's home with ``dead`` dead deliveries, the newest ``ago``."""
    at = utcnow() - ago
    with site.rig.db.session() as s:
        sub, _ = add_subscription(
            s,
            partner=partner,
            url="https://partner.example.invalid/doorstep",
            event_types=["doorstep.ring"],
            home_id=site.home,
            by="operator:test",
            at=at,
        )
        for i in range(dead):
            when = at - timedelta(seconds=i)
            row = WebhookOutboxRow(
                ce_id=f"dead-{sub.id}-{i}",
                type="doorstep.ring",
                subject="devices/x",
                home_id=site.home,
                time=when,
                data={"device": "x"},
                created_at=when,
                fanned_out_at=when,
            )
            s.add(row)
            s.flush()
            s.add(
                WebhookDelivery(
                    subscription_id=sub.id,
                    outbox_id=row.id,
                    status=DEAD,
                    attempts=3,
                    next_attempt_at=when,
                    last_status=500,
                    last_error="HTTP 500",
                    created_at=when,
                    updated_at=when,
                )
            )
        return sub.id


def test_each_row_counts_its_own_dead_deliveries(site: Site, open_page: Any) -> None:
    quiet = _failing(site, "Quiet Council", 2, ago=timedelta(days=2))
    loud = _failing(site, "Loud Agency", 230, ago=timedelta(hours=1))
    page = open_page(**DESKTOP)
    site.login(page, "adam", then="/admin")
    site.ready(page)
    expect(page.locator(f"tr[data-webhook='{loud}']")).to_contain_text("230 deliveries gave up")
    expect(page.locator(f"tr[data-webhook='{quiet}']")).to_contain_text("2 deliveries gave up")
