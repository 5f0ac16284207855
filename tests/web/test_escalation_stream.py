"""An escalating ring reaches the family's open ring card live, and nobody else.

Real HTTP server, real SSE: each step (and the answer) arrives as an ``escalation``
event (ids and step numbers only) on the streams of the home's family; an officer of
the home, a carer of the home and another home's owner hear none of it. The names and
receipts the card shows come from ``GET /api/rings/{event_id}/escalation``: with names
for the family, ids only for an officer the ring reached. The hub's clock, moved by
the test, decides the steps.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from hub.escalation import Policy, set_policy
from hub.storage.models_care import RingEscalation
from hub.storage.models_registry import Role
from protocol import utcnow
from tests.web.conftest import (
    Web,
    listen_stream,
    log_in,
    make_person,
    stream_cookie,
    wait_online,
)


def _listen(base: str, cookie: str, got: queue.Queue, ready: threading.Event) -> None:
    listen_stream(base, cookie, "escalation", got, ready, once=False)


def _drain(q: queue.Queue, wait: float = 0.5) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            out.append(q.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            break
    return out


@pytest.fixture
def hub_time(web: Web):
    web.rig.clock.advance_to(0)
    yield
    web.rig.clock.advance_to(0)


def test_each_step_reaches_the_family_stream_only(web: Web, server: str, hub_time) -> None:
    rig = web.rig
    owner = make_person(web, "esc-olive", Role.FAMILY_OWNER, rig.home)
    make_person(web, "esc-carla", Role.CARER, rig.home)
    with rig.db.session() as s:
        set_policy(s, rig.home, owner, Policy(contacts=(owner,), include_telecare=True), utcnow())
    device = rig.add_device()
    _agent, board = rig.agent(device)
    wait_online(rig, device)

    heard: dict[str, queue.Queue] = {}
    for name in ("anna", "officer", "esc-carla", "stranger"):
        heard[name] = queue.Queue()
        ready = threading.Event()
        threading.Thread(
            target=_listen,
            daemon=True,
            args=(server, stream_cookie(web, server, name), heard[name], ready),
        ).start()
        assert ready.wait(5), f"{name}'s stream never became ready"

    board.ring()
    found: list[RingEscalation] = []

    def started() -> bool:
        with rig.db.read_session() as s:
            stmt = select(RingEscalation).where(RingEscalation.device_id == device)
            found[:] = list(s.scalars(stmt))
        return bool(found)

    assert rig.wait_until(started), "the ring never started an escalation"
    event_id = found[0].event_id
    anna, _ = log_in(web, "anna")

    rig.clock.advance_to(70)
    assert rig.hub.escalation.tick() == 1
    first = heard["anna"].get(timeout=5)
    assert (first["event_id"], first["home"], first["device"]) == (event_id, rig.home, device)
    assert (first["status"], first["step"], first["step_kind"]) == ("running", 1, "person")
    assert first["steps_planned"] == 2
    assert "Olive" not in json.dumps(first), "the notice carries ids, never a name"
    described = anna.get(f"/api/rings/{event_id}/escalation").json()
    [step] = described["steps"]
    assert (step["kind"], step["names"], step["to"]) == ("person", ["Esc-Olive"], [owner])
    assert "receipts" in step

    rig.clock.advance_to(130)
    assert rig.hub.escalation.tick() == 1
    second = heard["anna"].get(timeout=5)
    assert (second["step"], second["step_kind"]) == (2, "telecare")
    # The officer this ring reached follows it on the telecare page: ids, no family names.
    officer, _ = log_in(web, "officer")
    seen_by_officer = officer.get(f"/api/rings/{event_id}/escalation").json()
    assert [s["names"] for s in seen_by_officer["steps"]] == [[], []]

    assert rig.hub.escalation.acknowledge(found[0].id, owner) is True
    answered = heard["anna"].get(timeout=5)
    assert (answered["status"], answered["step_kind"]) == ("answered", "answered")
    described = anna.get(f"/api/rings/{event_id}/escalation").json()
    assert (described["status"], described["answered_by_name"]) == ("answered", "Esc-Olive")

    for name in ("officer", "esc-carla", "stranger"):
        assert _drain(heard[name]) == [], f"{name} may not follow the family's ring card"
    assert _drain(heard["anna"]) == [], "one notice per step, no more"
