"""GET /api/admin/notifications/failures, newest first, hands out its next (older) page
in a Link header: an admin can reach every failure, not only the newest 100. Failures
at the same instant are each shown once across pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hub.notify.route import Draft, row_of
from hub.notify.store import add_recipient, claim_delivery, record_attempt, save_notification
from hub.storage.models_registry import Role
from protocol import utcnow
from tests.web.conftest import Web, log_in, make_person


def _failed(web: Web, key: str, home: str, person: str, at: datetime) -> None:
    with web.rig.db.session() as s:
        draft = Draft(key, "device_offline", home, "door-nf", True, "Offline", "b", "/", "t")
        save_notification(s, row_of(draft, at))
        add_recipient(
            s, key=key, person_id=person, device_id="door-nf", kind="device_offline",
            skipped=None, at=at,
        )  # fmt: skip
        claim_delivery(s, key=key, person_id=person, channel="govuk_sms", target="phone", at=at)
        record_attempt(
            s, key=key, person_id=person, channel="govuk_sms", target="phone",
            status="failed", attempts=3, error="HTTP 400", at=at,
        )  # fmt: skip


def _next(r: Any) -> str | None:
    link = r.headers.get("Link")
    return link[1 : link.index(">")] if link else None


def test_failures_page_on_through_a_link_header(web: Web) -> None:
    rig = web.rig
    person = make_person(web, "nf_member", Role.FAMILY_MEMBER, rig.home)
    stranger = make_person(web, "nf_other", Role.FAMILY_MEMBER, rig.other_home)
    t0 = utcnow() - timedelta(hours=1)
    for i in range(7):  # three at one instant, then four a minute apart
        _failed(web, f"nf:{i}", rig.home, person, t0 + timedelta(minutes=max(i - 2, 0)))
    _failed(web, "nf:other", rig.other_home, stranger, t0)

    make_person(web, "nf_admin", Role.ADMIN, rig.home)
    admin, _ = log_in(web, "nf_admin")
    url = "/api/admin/notifications/failures"
    everything = admin.get(url, params={"limit": 500})
    assert everything.status_code == 200, everything.text
    assert _next(everything) is None
    keys = [r["key"] for r in everything.json()]
    assert sorted(keys) == [f"nf:{i}" for i in range(7)]
    assert keys[:4] == ["nf:6", "nf:5", "nf:4", "nf:3"]  # newest first

    r = admin.get(url, params={"limit": 2})
    got = [x["key"] for x in r.json()]
    while (after := _next(r)) is not None:
        r = admin.get(after)
        assert r.status_code == 200, r.text
        assert r.json(), "a Link header must not point at an empty page"
        got += [x["key"] for x in r.json()]
    assert got == keys


def test_a_cursor_not_from_the_link_header_is_refused(web: Web) -> None:
    make_person(web, "nf_admin2", Role.ADMIN, web.rig.home)
    admin, _ = log_in(web, "nf_admin2")
    r = admin.get("/api/admin/notifications/failures", params={"before": "yesterday"})
    assert r.status_code == 422
