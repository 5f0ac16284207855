"""GET /api/homes/{home}/events: the newest events first, older pages through the
Link header, so a busy door's history shows today rather than its first week."""

from __future__ import annotations

import re
from datetime import timedelta

from hub.storage import store_event
from protocol import utcnow
from tests.fixtures.database import ring
from tests.web.conftest import Web
from tests.web.test_auth_and_doors import login

NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


def _door_with_history(web: Web, count: int) -> str:
    device = web.rig.add_device()
    start = utcnow() - timedelta(hours=count)
    with web.rig.db.session() as s:
        for seq in range(1, count + 1):
            store_event(s, ring(device, seq), received_at=start + timedelta(hours=seq))
    return device


def _seqs_of(rows: list[dict], device: str) -> list[int]:
    return [r["seq"] for r in rows if r["device"] == device]


def test_the_first_page_is_the_newest_and_the_link_walks_back_to_the_first(web: Web) -> None:
    device = _door_with_history(web, 130)
    client, _csrf = login(web, "anna")
    first = client.get(f"/api/homes/{web.rig.home}/events")
    assert first.status_code == 200, first.text
    assert _seqs_of(first.json(), device)[:3] == [130, 129, 128]
    received = [r["received_at"] for r in first.json()]
    assert received == sorted(received, reverse=True)
    seen = _seqs_of(first.json(), device)
    link = first.headers.get("link")
    while link:
        (path,) = NEXT.match(link).groups()  # type: ignore[union-attr]
        page = client.get(path)
        assert page.status_code == 200, page.text
        seen += _seqs_of(page.json(), device)
        link = page.headers.get("link")
    assert seen == list(range(130, 0, -1)), "every event once, newest first"


def test_the_page_size_and_the_after_seq_filter_carry_into_the_next_page(web: Web) -> None:
    device = _door_with_history(web, 12)
    client, _csrf = login(web, "anna")
    # The rig's other doors may have events of their own: keep this door's.
    r = client.get(f"/api/homes/{web.rig.home}/events", params={"limit": 3, "after_seq": 6})
    assert len(r.json()) <= 3
    link = r.headers["link"]
    assert "limit=3" in link
    assert "after_seq=6" in link
    seen = _seqs_of(r.json(), device)
    while link:
        (path,) = NEXT.match(link).groups()  # type: ignore[union-attr]
        page = client.get(path)
        seen += _seqs_of(page.json(), device)
        link = page.headers.get("link")
    assert seen == [12, 11, 10, 9, 8, 7]


def test_a_made_up_cursor_gets_a_clear_error(web: Web) -> None:
    client, _csrf = login(web, "anna")
    r = client.get(f"/api/homes/{web.rig.home}/events", params={"before": "door-1:x"})
    assert r.status_code == 422
    assert "not a history cursor" in r.text
