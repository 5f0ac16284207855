"""GET /api/admin/webhooks counts each subscription's dead deliveries itself, however many
other subscriptions' dead letters are newer (the dead-letters list stops at 200)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.storage.models_registry import Role
from hub.storage.models_webhooks import DEAD, WebhookDelivery, WebhookOutboxRow
from protocol import utcnow
from tests.hub.test_webhook_api import new_subscription
from tests.web.conftest import Web, log_in, make_person


def _dead(web: Web, sub: str, n: int, at: datetime) -> None:
    with web.rig.db.session() as s:
        for i in range(n):
            row = WebhookOutboxRow(
                ce_id=f"dead-{sub}-{i}",
                type="doorstep.ring",
                subject="devices/x",
                home_id=None,
                time=at,
                data={},
                created_at=at,
                fanned_out_at=at,
            )
            s.add(row)
            s.flush()
            s.add(
                WebhookDelivery(
                    subscription_id=sub,
                    outbox_id=row.id,
                    status=DEAD,
                    attempts=3,
                    next_attempt_at=at,
                    last_status=500,
                    last_error="HTTP 500",
                    created_at=at,
                    updated_at=at,
                )
            )


def test_subscriptions_carry_their_own_dead_letter_count(web: Web) -> None:
    now = utcnow()
    quiet, loud, healthy, other = (
        new_subscription(web, h)
        for h in (web.rig.home, web.rig.home, web.rig.home, web.rig.other_home)
    )
    _dead(web, quiet, 2, now - timedelta(days=1))
    _dead(web, loud, 201, now)  # all newer than the quiet one's
    _dead(web, other, 1, now)  # another home's: not this admin's

    make_person(web, "dl_admin", Role.ADMIN, web.rig.home)
    client, _ = log_in(web, "dl_admin")
    assert len(client.get("/api/admin/webhooks/dead-letters").json()) == 200
    listed = {x["id"]: x for x in client.get("/api/admin/webhooks").json()}
    assert set(listed) == {quiet, loud, healthy}
    assert [listed[x]["dead_letters"] for x in (quiet, loud, healthy)] == [2, 201, 0]
    last = datetime.fromisoformat(listed[quiet]["last_dead_at"])
    assert abs(last - (now - timedelta(days=1))) < timedelta(seconds=1)
    assert listed[healthy]["last_dead_at"] is None
