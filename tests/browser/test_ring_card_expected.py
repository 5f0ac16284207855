"""The family's ring card names who is expected ("Expected now: Bea (Helping Hands),
HH:MM–HH:MM"), shows the carer's check-in next to the snapshot when she taps "I'm here",
says plainly when a ring comes outside every visit window, and lets the family approve a
check-in with their code when the home asks for that.

(tests/browser/test_family_ring_and_unlock.py covers the "Who is expected" list below the
card; this module covers the ring card itself.)"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from hub.storage.visit_records import set_family_approves
from hub.storage.visits import get_window, remove_window
from protocol import utcnow
from tests.browser.conftest import Site, visit_around_now


def ring_and_wait(site: Site, page: Any) -> None:
    page.evaluate("() => { window.__doorstepMarks.length = 0; }")
    site.board.ring()
    page.wait_for_selector("#ring-card", state="visible")
    page.wait_for_function("() => window.__doorstepMarks.some(m => m.kind === 'ring')")


def family_page(site: Site, open_page: Any) -> Any:
    page = open_page()
    site.login(page, "anna", then=f"/homes/{site.home}")
    page.wait_for_selector("#lock-state[data-state=engaged]")
    site.wait_stream(page)
    return page


def test_ring_card_names_the_expected_carer_then_shows_her_check_in(
    site: Site, open_page: Any
) -> None:
    with site.rig.db.read_session() as s:
        window = get_window(s, site.visit)
    span = f"{window.start:%H:%M}–{window.end:%H:%M}"
    family = family_page(site, open_page)
    ring_and_wait(site, family)
    card = family.locator("#expected")
    expect(card).to_contain_text("Expected now:")
    expect(card).to_contain_text(f"Bea (Helping Hands), {span}")
    expect(card).to_contain_text("not checked in")
    assert family.locator("img#ring-snapshot").is_visible()

    carer = open_page()
    site.login(carer, "bea")
    carer.click(f"#here-{site.visit}")
    expect(carer.locator(f"#here-{site.visit}")).to_be_hidden()  # her page took it
    # The same card, no new ring: the check-in appears next to the snapshot.
    expect(card).to_contain_text("checked in at")
    expect(card).not_to_contain_text("not checked in")
    assert family.locator("img#ring-snapshot").is_visible()
    assert family.is_visible("#ring-card")


def test_ring_card_shows_the_expected_carers_photo_given_with_consent(
    site: Site, open_page: Any
) -> None:
    from hub.carer_photos import PhotoConsent, delete_photo, put_photo
    from hub.storage.models_carer_photos import PhotoConsentBy
    from tests.hub.test_carer_photos import photo

    bea = site.people["bea"]
    with site.rig.db.session() as s:
        put_photo(s, site.home, bea, photo(300, 400), PhotoConsent(consent=True),
                  consent_by=PhotoConsentBy.CARER, by=bea, at=utcnow())  # fmt: skip
    try:
        family = family_page(site, open_page)
        ring_and_wait(site, family)
        img = family.locator("#expected img[alt='Photo of Bea']")
        expect(img).to_be_visible()
        # Really loaded through the family's session (not a broken-image icon).
        family.wait_for_function(
            "() => { const i = document.querySelector(\"#expected img[alt='Photo of Bea']\");"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        assert img.evaluate("i => i.naturalWidth / i.naturalHeight") == 0.75
    finally:
        with site.rig.db.session() as s:
            delete_photo(s, site.home, bea, by=bea, at=utcnow())


def test_a_ring_outside_every_window_says_so_plainly(site: Site, open_page: Any) -> None:
    with site.rig.db.session() as s:
        remove_window(s, site.visit)
    family = family_page(site, open_page)
    ring_and_wait(site, family)
    expect(family.locator("#expected")).to_have_text(
        "No one is expected now: this ring is outside every visit window."
    )


def test_family_lets_a_checked_in_carer_in_with_their_code(site: Site, open_page: Any) -> None:
    with site.rig.db.session() as s:
        set_family_approves(s, site.home, True, by=site.people["olive"], at=utcnow())
        visit = visit_around_now(s, site)
    family = family_page(site, open_page)
    assert family.is_hidden("#approvals")
    carer = open_page()
    site.login(carer, "bea")
    carer.click(f"#here-{visit}")
    expect(carer.locator("body")).to_contain_text("The family has been asked to let you in.")

    # The stream's check-in notice brings the waiting carer to the family's screen.
    button = family.locator("#approval-list button")
    expect(button).to_have_text("Let Bea in")
    assert site.board.relay_energised is False
    before = len(site.board.relay_changes)
    button.click()
    assert family.locator("dialog#unlock-dialog").evaluate("d => d.open")
    family.fill("#step-up-code", site.code("anna"))
    family.click("button#unlock-confirm")
    family.wait_for_function("() => window.__doorstepMarks.some(m => m.kind === 'unlock')")
    (unlock,) = family.evaluate("() => window.__doorstepMarks.filter(m => m.kind === 'unlock')")
    assert unlock["text"] == "unlocked — relocking in 0.3 s"  # the door's own hold time
    assert any(energised for _t, energised in site.board.relay_changes[before:])
    expect(family.locator("#approvals")).to_be_hidden()  # answered: nothing waits any more
