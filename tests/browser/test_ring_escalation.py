"""The family's ring card follows an unanswered ring's escalation live: "No answer yet —
escalated to Olive (step 1 of 2) at HH:MM", then "Telecare service notified", then who
answered; a page opened on the ring (/homes/{home}?ring=<event id>, what the escalation's
notification opens) shows the same lines at once.

The hub's clock is moved by the test and each step taken by an explicit ``tick()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from hub.escalation import Policy, set_policy
from hub.storage.care import steps_of
from hub.storage.models_care import RingEscalation
from protocol import utcnow
from tests.browser.conftest import Site
from tests.browser.test_accessibility import check

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def policy(site: Site) -> Iterator[None]:
    with site.rig.db.session() as s:
        olive = site.people["olive"]
        set_policy(s, site.home, olive, Policy(contacts=(olive,), include_telecare=True), utcnow())
    site.rig.clock.advance_to(0)
    yield
    site.rig.clock.advance_to(0)
    with site.rig.db.session() as s:
        set_policy(s, site.home, site.people["olive"], Policy(), utcnow())


def _escalation(site: Site) -> RingEscalation:
    found: list[RingEscalation] = []

    def running() -> bool:
        with site.rig.db.read_session() as s:
            stmt = select(RingEscalation).where(RingEscalation.status == "running")
            found[:] = [e for e in s.scalars(stmt) if e.device_id == site.device]
            for e in found:
                s.expunge(e)
        return bool(found)

    assert site.rig.wait_until(running), "the ring never started an escalation"
    return found[0]


def _step_time(site: Site, esc: RingEscalation, step: int) -> str:
    with site.rig.db.read_session() as s:
        at = next(st.at for st in steps_of(s, esc.id) if st.step == step)
    return f"{at.astimezone(LONDON):%H:%M}"


def ring_seen_by_family(site: Site, family: Any) -> RingEscalation:
    """Anna logs in on ``family``, the door rings, her ring card shows: the escalation."""
    site.login(family, "anna", then=f"/homes/{site.home}")
    family.wait_for_selector("#lock-state[data-state=engaged]")
    site.wait_stream(family)
    site.board.ring()
    family.wait_for_selector("#ring-card", state="visible")
    return _escalation(site)


def _tick_at(site: Site, seconds: float) -> None:
    site.rig.clock.advance_to(seconds)
    site.rig.hub.escalation.tick()  # the hub's own job may have taken the step already


def test_the_ring_card_shows_each_step_then_who_answered(
    site: Site, policy: None, open_page: Any, shots: Path
) -> None:
    family = open_page()
    esc = ring_seen_by_family(site, family)
    lines = family.locator("#ring-escalation")
    assert lines.get_attribute("aria-live") == "polite"
    expect(lines).to_be_empty()

    _tick_at(site, 70)
    expect(lines).to_contain_text(
        f"No answer yet — escalated to Olive (step 1 of 2) at {_step_time(site, esc, 1)}"
    )
    _tick_at(site, 130)
    expect(lines).to_contain_text(
        f"Telecare service notified (step 2 of 2) at {_step_time(site, esc, 2)}"
    )
    expect(lines).to_contain_text("escalated to Olive")  # the earlier step stays listed
    check(Axe(), family, "ring card: escalated")
    family.screenshot(path=str(shots / "ring-escalated-phone.png"), full_page=True)

    # What the escalation's notification opens: the page loads the ring's state itself.
    opened = open_page()
    site.login(opened, "olive", then=f"/homes/{site.home}?ring={esc.event_id}")
    expect(opened.locator("#ring-card")).to_be_visible()
    expect(opened.locator("#ring-escalation")).to_contain_text("escalated to Olive (step 1 of 2)")
    expect(opened.locator("#ring-escalation")).to_contain_text("Telecare service notified")

    assert site.rig.hub.escalation.acknowledge(esc.id, site.people["olive"]) is True
    expect(lines).to_contain_text("Answered by Olive at")
    expect(opened.locator("#ring-escalation")).to_contain_text("Answered by Olive at")
