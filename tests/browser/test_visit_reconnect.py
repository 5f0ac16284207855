"""A family page whose live stream dropped catches up on a carer's check-in: "I'm here"
tapped while the page was cut off shows once the stream is back ("ready"), with no
reload: in "Who is expected", on the ring card (whose unchanged lines keep their nodes,
so its live region announces only the change), and as a carer waiting to be let in.

The page reaches the site through a ``Cable`` (tests/browser/test_escalation_reconnect.py)
that cuts its connections for real: the hub's "check_in" notice never reaches the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from hub.storage.visit_records import set_family_approves
from protocol import utcnow
from tests.browser.conftest import Site, visit_around_now
from tests.browser.test_escalation_reconnect import Cable
from tests.browser.test_escalation_reconnect import cable as cable  # the fixture


def _family_page(site: Site, cable: Cable, open_page: Any) -> Any:
    family = open_page(base_url=cable.url)
    site.login(family, "anna", then=f"/homes/{site.home}")
    site.wait_stream(family)
    expect(family.locator("#expected-now")).to_contain_text("Bea (Helping Hands)")
    return family


def _check_in(site: Site, open_page: Any, window_id: str) -> Any:
    """Bea taps "I'm here" on her own page (not through the cable)."""
    carer = open_page()
    site.login(carer, "bea")
    carer.click(f"#here-{window_id}")
    expect(carer.locator(f"#here-{window_id}")).to_be_hidden()  # the hub took it
    return carer


def test_a_check_in_while_the_page_was_cut_off_shows_when_it_is_back(
    site: Site, cable: Cable, open_page: Any, shots: Path
) -> None:
    family = _family_page(site, cable, open_page)
    expected_now = family.locator("#expected-now")
    expect(expected_now).to_contain_text("not checked in")
    site.board.ring()
    card = family.locator("#expected")
    expect(card).to_contain_text("not checked in")
    # A property, not an attribute: a re-render that rebuilt the line would lose it.
    family.evaluate("document.querySelector('#expected .expected-title').kept = true")

    cable.cut_off(family)
    _check_in(site, open_page, site.visit)
    family.wait_for_timeout(500)  # the notice, had it reached the page, would show by now
    expect(expected_now).to_contain_text("not checked in")
    expect(card).to_contain_text("not checked in")

    cable.reconnect(family)
    for shown in (expected_now, card):
        expect(shown).to_contain_text("checked in at")
        expect(shown).not_to_contain_text("not checked in")
        expect(shown.locator("li")).to_have_count(1)
    assert family.evaluate("document.querySelector('#expected .expected-title').kept") is True
    family.screenshot(path=str(shots / "check-in-reconnected-phone.png"), full_page=True)


def test_a_carer_who_asked_to_be_let_in_meanwhile_waits_on_the_page_once_it_is_back(
    site: Site, cable: Cable, open_page: Any
) -> None:
    # A second visit of Bea's around now (the module's first one is checked in already).
    with site.rig.db.session() as s:
        set_family_approves(s, site.home, True, by=site.people["olive"], at=utcnow())
        visit = visit_around_now(s, site)
    family = _family_page(site, cable, open_page)
    assert family.is_hidden("#approvals")

    cable.cut_off(family)
    carer = _check_in(site, open_page, visit)
    expect(carer.locator("body")).to_contain_text("The family has been asked to let you in.")
    family.wait_for_timeout(500)
    assert family.is_hidden("#approvals")

    cable.reconnect(family)
    expect(family.locator("#approval-list button")).to_have_text("Let Bea in")
