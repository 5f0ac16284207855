"""The live stream over a real HTTP server: a ring on the simulated door arrives as an
SSE event, once (its preview and the stored ring are one event); the family gets its
picture inline, an officer with a snapshot grant only the
snapshot id (each viewing goes through the audited fetch), one without a grant neither."""

from __future__ import annotations

import base64
import queue
import threading

import pytest

from hub.storage.models_registry import Grant, Role
from hub.storage.snapshots import get_snapshot
from tests.web.conftest import Web, listen_stream, make_person, stream_cookie, wait_online


def _listen(base: str, cookie: str, got: queue.Queue, ready: threading.Event) -> None:
    listen_stream(base, cookie, "ring", got, ready, once=False)


def test_ring_reaches_family_with_snapshot_and_telecare_without(web: Web, server: str) -> None:
    rig = web.rig
    device = rig.add_device()
    _agent, board = rig.agent(device)
    wait_online(rig, device)
    make_person(
        web,
        "granted-viewer",
        Role.TELECARE_OFFICER,
        rig.home,
        grants=(Grant.TELECARE_MAY_VIEW_SNAPSHOTS,),
    )
    results: dict[str, queue.Queue] = {}
    threads = []
    for name in ("anna", "officer", "granted-viewer", "stranger"):
        results[name] = queue.Queue()
        ready = threading.Event()
        t = threading.Thread(
            target=_listen,
            daemon=True,
            args=(server, stream_cookie(web, server, name), results[name], ready),
        )
        t.start()
        assert ready.wait(5)
        threads.append(t)
    board.ring()
    family = results["anna"].get(timeout=10)
    officer = results["officer"].get(timeout=10)
    assert family["device"] == device
    assert family["snapshot_id"]
    assert officer["device"] == device
    assert "snapshot_id" not in officer
    assert "picture" not in officer
    granted = results["granted-viewer"].get(timeout=10)
    assert granted["snapshot_id"] == family["snapshot_id"]
    assert "picture" not in granted  # by a grant: the audited GET /api/snapshots/{id} only
    prefix = "data:image/jpeg;base64,"
    assert family["picture"].startswith(prefix)
    jpeg = base64.b64decode(family["picture"][len(prefix) :])
    with rig.db.read_session() as s:
        stored = rig.hub.files.read(get_snapshot(s, family["snapshot_id"]).sha256)
    assert jpeg == stored
    with pytest.raises(queue.Empty):  # another home's owner hears nothing of this door
        results["stranger"].get(timeout=1)
    # The ring's preview (before it is stored) and the stored ring make one SSE event.
    for name in ("anna", "officer", "granted-viewer"):
        assert results[name].empty(), f"{name} got the ring twice"
