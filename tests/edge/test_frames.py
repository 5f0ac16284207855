"""The frame buffer keeps recent pictures already scaled and JPEG-encoded, so a press
only has to pick one; privacy empties it; a lost camera is reported once."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from edge.frames import FrameBuffer
from hardware.sim_camera import SimCamera


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def camera() -> SimCamera:
    return SimCamera(1280, 720, seed=5, visitor=True)


@pytest.fixture
def buffer(camera):
    buf = FrameBuffer(camera, width=640, quality=80, size=5, interval_s=0.01)
    buf.start()
    assert wait_for(lambda: len(buf._recent(10)) == 5)
    yield buf
    buf.stop()


def test_best_is_the_sharpest_recent_picture_ready_encoded(buffer):
    buffer.stop()  # hold still, to compare
    recent = buffer._recent(buffer.max_age_s)
    best = buffer.best()
    assert best is not None
    assert best in recent
    assert best.score == max(s.score for s in recent)
    image = cv2.imdecode(np.frombuffer(best.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (360, 640, 3), "scaled to the snapshot width before encoding"
    assert (best.width, best.height) == (640, 360)


def test_latest_is_the_newest(buffer):
    buffer.stop()
    newest = buffer.latest(10.0)
    assert newest is not None
    assert newest.at == max(s.at for s in buffer._recent(10.0))


def test_without_recent_pictures_a_fresh_one_is_taken(camera):
    buf = FrameBuffer(camera, width=640)  # never started: nothing buffered
    still = buf.best()
    assert still is not None
    assert still.jpeg[:2] == b"\xff\xd8"
    assert camera.frames_captured == 1


def test_privacy_pause_forgets_and_refuses(buffer, camera):
    buffer.pause(True)
    assert buffer._recent(10.0) == []
    assert buffer.best() is None
    assert buffer.latest(10.0) is None
    taken = camera.frames_captured
    time.sleep(0.1)
    assert camera.frames_captured == taken, "no capture while paused"
    buffer.pause(False)
    assert wait_for(lambda: buffer.best() is not None)


def test_lost_camera_is_reported_once_and_its_return_once(camera):
    events: list[str] = []
    buf = FrameBuffer(
        camera,
        width=640,
        interval_s=0.01,
        on_lost=lambda detail: events.append("lost"),
        on_restored=lambda: events.append("restored"),
    )
    camera.cut()
    buf.start()
    try:
        assert wait_for(lambda: buf.lost)
        assert buf.best() is None, "no picture, and no error into the ring path"
        time.sleep(0.1)
        camera.restore()
        assert wait_for(lambda: not buf.lost)
        assert wait_for(lambda: buf.best() is not None)
    finally:
        buf.stop()
    assert events == ["lost", "restored"]
