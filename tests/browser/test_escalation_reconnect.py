"""A family page whose live stream dropped catches up when it reconnects: the escalation
step taken while the page was cut off shows once the stream is back ("ready"), with
no new notice, and the lines already shown stay as they were (same nodes, no doubles);
the door's state is read again; a ring the hub stored meanwhile is shown.

The page reaches the site through a ``Cable`` (a TCP relay in this test) that can be
unplugged: the open stream is cut for real, EventSource reconnects by itself, and the
hub's "escalation" notice for the step taken meanwhile never reaches the page.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from hub.storage.devices import get_device
from hub.storage.events import rings_received_after
from protocol.base import utcnow
from tests.browser.conftest import DESKTOP, Site
from tests.browser.test_ring_escalation import _step_time, _tick_at, ring_seen_by_family
from tests.browser.test_ring_escalation import policy as policy  # the fixture

STEP_1 = "No answer yet — escalated to Olive (step 1 of 2)"
TELECARE = "Telecare service notified (step 2 of 2)"


class Cable:
    """A TCP relay to ``port`` on 127.0.0.1: unplug() cuts every open connection and
    refuses new ones until plug_in(), as a phone losing its network would."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.plugged = True
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # stopped
            if not self.plugged:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for end in (src, dst):
            _cut(end)
        with self.lock:
            self.open -= {src, dst}

    def unplug(self) -> None:
        self.plugged = False
        with self.lock:
            ends = list(self.open)
        for end in ends:
            _cut(end)  # shutdown, not close: it wakes the pump blocked in recv()

    def plug_in(self) -> None:
        self.plugged = True

    def cut_off(self, page: Any) -> None:
        """Unplug, and wait until the page knows its stream is down."""
        self.unplug()
        page.wait_for_selector("body[data-stream=closed]", state="attached")

    def reconnect(self, page: Any) -> None:
        """Plug in, and wait until EventSource (retry: 2 s) has the hub feeding it again."""
        self.plug_in()
        Site.wait_stream(page)

    def stop(self) -> None:
        self.listener.close()
        self.unplug()


def _cut(end: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already cut
        end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def cable(site: Site) -> Iterator[Cable]:
    cable = Cable(int(site.url.rsplit(":", 1)[1]))
    yield cable
    cable.stop()


def test_a_reconnected_stream_shows_the_step_taken_while_it_was_down(
    site: Site, policy: None, cable: Cable, open_page: Any, shots: Path
) -> None:
    family = open_page(base_url=cable.url)
    esc = ring_seen_by_family(site, family)
    lines = family.locator("#ring-escalation")
    _tick_at(site, 70)
    expect(lines).to_contain_text(f"{STEP_1} at {_step_time(site, esc, 1)}")
    shown = lines.locator("p").first.inner_text()
    # Marks the line shown now (a property, not an attribute, so it compares the same):
    # a re-render that rebuilt the line would lose the mark.
    family.evaluate("document.querySelector('#ring-escalation p').kept = true")

    cable.cut_off(family)
    _tick_at(site, 130)
    family.wait_for_timeout(500)  # the notice, had it reached the page, would show by now
    expect(lines).not_to_contain_text(TELECARE)

    cable.reconnect(family)
    expect(lines).to_contain_text(f"{TELECARE} at {_step_time(site, esc, 2)}")
    expect(lines.locator("p")).to_have_count(2)
    expect(lines.locator("p").first).to_have_text(shown)
    assert family.evaluate("document.querySelector('#ring-escalation p').kept") is True
    family.screenshot(path=str(shots / "ring-escalation-reconnected-phone.png"), full_page=True)


def test_a_reconnected_stream_reads_the_door_again(
    site: Site, cable: Cable, open_page: Any, shots: Path
) -> None:
    # The door panel shows the door as it last reported: a change it reported while the
    # page was cut off must show once the stream is back, not wait for the next change.
    family = open_page(base_url=cable.url)
    site.login(family, "anna", then=f"/homes/{site.home}")
    family.wait_for_selector("#door-state[data-state=closed]")
    site.wait_stream(family)

    cable.cut_off(family)
    site.board.open_door()
    assert site.rig.hub.ingest.wait_idle(10)  # stored at the hub; its notice found no page
    family.wait_for_timeout(500)
    expect(family.locator("#door-state")).to_have_attribute("data-state", "closed")

    cable.reconnect(family)
    expect(family.locator("#door-state")).to_have_attribute("data-state", "open")
    family.screenshot(path=str(shots / "door-state-reconnected-phone.png"), full_page=True)
    site.board.close_door()  # as the module's other tests expect it


def test_a_ring_while_the_page_was_cut_off_shows_when_it_is_back(
    site: Site, cable: Cable, open_page: Any, shots: Path
) -> None:
    # The stream's ids tell the hub what the page has seen (Last-Event-ID): the ring it
    # stored meanwhile comes first on the new stream, picture and all.
    family = open_page(base_url=cable.url)
    site.login(family, "anna", then=f"/homes/{site.home}")
    site.wait_stream(family)
    expect(family.locator("#ring-card")).to_be_hidden()

    cable.cut_off(family)
    site.board.ring()
    assert site.rig.wait_until(lambda: _rings_stored(site) == 1)
    family.wait_for_timeout(500)
    expect(family.locator("#ring-card")).to_be_hidden()

    cable.reconnect(family)
    expect(family.locator("#ring-card")).to_be_visible()
    expect(family.locator("#ring-snapshot")).to_be_visible()
    family.screenshot(path=str(shots / "ring-missed-then-shown-phone.png"), full_page=True)


def _door_reported(site: Site) -> str:
    with site.rig.db.read_session() as s:
        return get_device(s, site.device).door_state.value


def _rings_stored(site: Site) -> int:
    with site.rig.db.read_session() as s:
        return len(rings_received_after(s, [site.device], utcnow() - timedelta(hours=1)))


def test_the_fleet_page_reads_the_fleet_again_after_a_reconnection(
    site: Site, cable: Cable, open_page: Any
) -> None:
    site.board.close_door()  # the module's door may be open from an earlier test
    assert site.rig.wait_until(lambda: _door_reported(site) == "closed")
    officer = open_page(base_url=cable.url, **DESKTOP)
    site.login(officer, "officer", then="/telecare")
    site.wait_stream(officer)
    row = officer.locator(f"table#fleet tbody tr[data-device='{site.device}']")
    expect(row).to_contain_text("closed")

    cable.cut_off(officer)
    site.board.open_door()
    assert site.rig.hub.ingest.wait_idle(10)
    officer.wait_for_timeout(500)
    expect(row).to_contain_text("closed")  # its notice found no page

    cable.reconnect(officer)
    expect(row).to_contain_text("open", timeout=5000)  # not the 30 s refresh
