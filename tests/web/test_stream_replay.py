"""A reconnecting stream gets the rings it missed: every ring and "ready" carry an id
(the hub's receive time in microseconds), EventSource sends the last one back as
``Last-Event-ID``, and the stream first replays the rings stored since then, only of the
homes the person may see, never one it already sent, never older than ten minutes."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx

from hub.storage.events import rings_received_after
from mobile_api.routes.stream import MISSED_RING_WINDOW, event_id_of, replay_from
from protocol.base import utcnow
from tests.hubrt.rig import HubRig
from tests.web.conftest import Web, stream_cookie, wait_online


def _until_ready(base: str, cookie: str, last_event_id: str | None) -> list[tuple[str, dict, str]]:
    """(event, data, id) of each message before "ready", and "ready" itself."""
    headers = {"Cookie": cookie} | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    out: list[tuple[str, dict, str]] = []
    with httpx.stream(
        "GET", f"{base}/api/stream", headers=headers, timeout=httpx.Timeout(10, read=15)
    ) as r:
        fields: dict[str, str] = {}
        for line in r.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" in fields:  # a message ends at its blank line
                event = fields.get("event", "")
                out.append((event, json.loads(fields["data"]), fields.get("id", "")))
                if event == "ready":
                    return out
            fields = {}
    raise AssertionError(f"the stream ended before 'ready': {out}")


def _stored_rings(rig: HubRig, device: str) -> int:
    with rig.db.read_session() as s:
        return len(rings_received_after(s, [device], utcnow() - timedelta(hours=1)))


def test_a_reconnecting_stream_first_gets_the_rings_it_missed(web: Web, server: str) -> None:
    rig = web.rig
    device = rig.add_device()
    _agent, board = rig.agent(device)
    wait_online(rig, device)
    anna = stream_cookie(web, server, "anna")
    stranger = stream_cookie(web, server, "stranger")
    [(_, _, seen)] = _until_ready(server, anna, None)  # a first connection: only "ready"
    [(_, _, stranger_seen)] = _until_ready(server, stranger, None)

    board.ring()  # while nobody listens
    assert rig.wait_until(lambda: _stored_rings(rig, device) == 1)

    *missed, ready = _until_ready(server, anna, seen)
    assert [event for event, _, _ in missed] == ["ring"]
    ring, ring_id = missed[0][1], missed[0][2]
    assert ring["device"] == device
    assert ring["snapshot_id"]  # the picture is fetched by id (audited when by a grant)
    assert int(ring_id) > int(seen)
    assert ready[0] == "ready"
    assert int(ready[2]) >= int(ring_id)
    # What the browser has seen is not sent again.
    assert [e for e, _, _ in _until_ready(server, anna, ring_id)] == ["ready"]
    assert [e for e, _, _ in _until_ready(server, anna, ready[2])] == ["ready"]
    # Another home's owner missed nothing of this door.
    assert [e for e, _, _ in _until_ready(server, stranger, stranger_seen)] == ["ready"]
    # An id that is not one of ours replays nothing.
    assert [e for e, _, _ in _until_ready(server, anna, "not-an-id")] == ["ready"]


def test_the_replay_starts_no_earlier_than_ten_minutes_ago() -> None:
    now = utcnow()
    assert replay_from(None, now) is None
    assert replay_from("", now) is None
    assert replay_from("12abc", now) is None
    assert replay_from(event_id_of(now + timedelta(hours=1)), now) is None  # not ours
    minute_ago = now - timedelta(minutes=1)
    assert replay_from(event_id_of(minute_ago), now) == minute_ago  # exact, both ways
    assert replay_from(event_id_of(now - timedelta(days=2)), now) == now - MISSED_RING_WINDOW
