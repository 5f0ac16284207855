"""GET /api/homes/{home}/audit hands out its next (older) page in a Link header, as the
other long lists do, so the audit page can show more than its first 100 entries."""

from __future__ import annotations

from typing import Any

import pytest

from hub.audit import AuditAction, NewEntry, append_many, device_ref, person_ref, ref
from hub.audit.actions import RefKind
from hub.storage.devices import revoke_device
from protocol import utcnow
from tests.web.conftest import Web, log_in


@pytest.fixture(scope="module")
def seqs(web: Web) -> list[int]:
    """Eleven entries naming the home, newest first."""
    now = utcnow()
    home = ref(RefKind.HOME, web.rig.home)
    with web.rig.db.session() as s:
        rows = append_many(
            s,
            [
                NewEntry(AuditAction.RETENTION_CHANGED, person_ref(web.rig.family), now, [home])
                for _ in range(11)
            ],
        )
        return sorted((r.seq for r in rows), reverse=True)


def _next(r: Any) -> str | None:
    link = r.headers.get("Link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"'), link
    return link[1 : link.index(">")]


def test_link_header_pages_through_every_entry_newest_first(web: Web, seqs: list[int]) -> None:
    anna, _ = log_in(web, "anna")
    url = f"/api/homes/{web.rig.home}/audit"
    everything = [e["seq"] for e in anna.get(url, params={"limit": 1000}).json()]
    assert everything[: len(seqs)] == seqs

    r = anna.get(url, params={"limit": 4})
    got = [e["seq"] for e in r.json()]
    pages = 1
    while (after := _next(r)) is not None:
        assert "limit=4" in after
        r = anna.get(after)
        assert r.status_code == 200, r.text
        page = [e["seq"] for e in r.json()]
        assert page, "a Link header must not point at an empty page"
        got += page
        pages += 1
    assert got == everything
    assert pages == -(-len(everything) // 4)


def test_no_link_when_everything_fits(web: Web, seqs: list[int]) -> None:
    anna, _ = log_in(web, "anna")
    r = anna.get(f"/api/homes/{web.rig.home}/audit", params={"limit": 1000})
    assert r.status_code == 200
    assert "Link" not in r.headers


def test_a_revoked_doors_entries_stay_in_its_homes_log(web: Web) -> None:
    door = web.rig.add_device()
    now = utcnow()
    with web.rig.db.session() as s:
        (row,) = append_many(
            s,
            [
                NewEntry(
                    AuditAction.RETENTION_CHANGED,
                    person_ref(web.rig.family),
                    now,
                    [device_ref(door)],
                )
            ],
        )
        revoke_device(s, door, now)
    anna, _ = log_in(web, "anna")
    seqs = [e["seq"] for e in anna.get(f"/api/homes/{web.rig.home}/audit").json()]
    assert row.seq in seqs
