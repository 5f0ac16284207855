"""A home's audit history through GET /api/homes/{home}/audit in a busy deployment: an old,
quiet home still sees all of its entries (the reference index, no scan cap), page by page."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from hub.audit import AuditAction, NewEntry, append_many, device_ref, person_ref, ref
from hub.audit.actions import RefKind
from hub.storage import add_membership, create_person
from hub.storage.models_registry import Role
from hub.storage.visits import add_window
from protocol import utcnow
from tests.web.conftest import Web, log_in

A = AuditAction
OTHERS = 20_500  # more than the old route's 20,000-entry scan cap


@pytest.fixture(scope="module")
def history(web: Web) -> dict[str, Any]:
    """The home's own entries first (home, door, visit window), then 20,500 of another home."""
    rig = web.rig
    door = rig.add_device()
    now = utcnow()
    with rig.db.session() as s:
        carer = create_person(s, display_name="Cara", at=now).id
        add_membership(s, person_id=carer, home_id=rig.home, role=Role.CARER, at=now)
        window = add_window(
            s,
            home_id=rig.home,
            carer_id=carer,
            agency="Test agency",
            start=time(9),
            end=time(10),
            tolerance_min=15,
            created_by=rig.family,
            at=now,
            weekday=0,
        ).id
        mine = [ref(RefKind.HOME, rig.home), device_ref(door), ref(RefKind.VISIT, window)]
        own = [
            NewEntry(A.RETENTION_CHANGED, person_ref(rig.family), now, [mine[i % 3]], {"i": i})
            for i in range(30)
        ]
        own_seqs = [r.seq for r in append_many(s, own)]
        other = ref(RefKind.HOME, rig.other_home)
        noise = (
            NewEntry(
                A.RETENTION_CHANGED, person_ref(rig.stranger), now + timedelta(seconds=i), [other]
            )
            for i in range(OTHERS)
        )
        append_many(s, noise)
    return {"own": sorted(own_seqs, reverse=True), "door": door, "window": window}


def test_an_old_home_sees_entries_older_than_20000_others(web: Web, history: dict) -> None:
    anna, _ = log_in(web, "anna")
    r = anna.get(f"/api/homes/{web.rig.home}/audit", params={"limit": 1000})
    assert r.status_code == 200, r.text
    ours = [e["seq"] for e in r.json() if e["details"].get("i") is not None]
    assert ours == history["own"]  # all 30, newest first, none lost behind the others
    assert {tuple(e["subjects"]) for e in r.json() if e["details"].get("i") is not None} == {
        (f"home:{web.rig.home}",),
        (f"device:{history['door']}",),
        (f"visit:{history['window']}",),
    }
    assert all(e["subjects"] != [f"home:{web.rig.other_home}"] for e in r.json())


def test_paging_with_before_gives_every_entry_exactly_once_in_order(
    web: Web, history: dict
) -> None:
    anna, _ = log_in(web, "anna")
    url = f"/api/homes/{web.rig.home}/audit"
    everything = anna.get(url, params={"limit": 1000}).json()
    pages: list[list[int]] = []
    before: int | None = None
    while True:
        params = {"limit": 4} | ({"before": before} if before else {})
        page = [e["seq"] for e in anna.get(url, params=params).json()]
        pages.append(page)
        if len(page) < 4:
            break
        before = page[-1]
    got = [seq for page in pages for seq in page]
    assert got == [e["seq"] for e in everything]
    assert len(got) == len(set(got)) >= 30
    assert got == sorted(got, reverse=True)


def test_the_other_home_sees_only_its_own(web: Web, history: dict) -> None:
    anna, _ = log_in(web, "anna")
    assert anna.get(f"/api/homes/{web.rig.other_home}/audit").status_code == 403
