"""Ring: one press gives exactly one ring event and its snapshot at the hub side."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from protocol import DoorbellRang, LockChanged, LockState, Snapshot
from tests.edge.rig import Rig


@pytest.fixture
def rig(plain_broker):
    r = Rig(plain_broker, Path(tempfile.mkdtemp(prefix="doorstep-edge-"))).start()
    yield r
    r.stop()


def test_press_gives_one_ring_with_its_snapshot_first(rig):
    rig.view.wait(lambda ms: any(isinstance(m, LockChanged) for m in ms))
    rig.board.visitor = True
    rig.board.ring()
    msgs = rig.view.wait(lambda ms: any(isinstance(m, DoorbellRang) for m in ms))
    rings = [m for m in msgs if isinstance(m, DoorbellRang)]
    snaps = [m for m in msgs if isinstance(m, Snapshot)]
    assert len(rings) == 1
    assert len(snaps) == 1
    assert rings[0].snapshot_id == snaps[0].meta.id
    assert snaps[0].meta.event_id == rings[0].id
    assert msgs.index(snaps[0]) < msgs.index(rings[0]), "the picture must arrive first"
    assert snaps[0].meta.seq < rings[0].seq
    image = cv2.imdecode(np.frombuffer(snaps[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[1] == snaps[0].meta.width
    # The cue follows the message out (it is not on the ring's critical path).
    deadline = time.monotonic() + 2
    while rig.board.indicator.current.value != "notifying" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert rig.board.indicator.current.value == "notifying"


def test_bouncing_or_held_button_does_not_flood(rig):
    for _ in range(20):  # a bouncing contact or an impatient visitor
        rig.board.press_bell()
        rig.board.release_bell()
    rig.board.press_bell()  # then held down
    rig.view.wait(lambda ms: sum(isinstance(m, DoorbellRang) for m in ms) > 1, timeout=1.0)
    assert len(rig.view.of(DoorbellRang)) == 1
    assert rig.agent.suppressed_presses >= 19


def test_lock_is_engaged_at_start(rig):
    msgs = rig.view.wait(lambda ms: any(isinstance(m, LockChanged) for m in ms))
    first = next(m for m in msgs if isinstance(m, LockChanged))
    assert first.state is LockState.ENGAGED
    assert first.cause.value == "boot"
    assert not rig.board.relay_energised
