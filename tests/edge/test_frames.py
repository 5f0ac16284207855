"""The frame buffer keeps recent pictures already scaled and JPEG-encoded, so a press
only has to pick one; privacy empties it; a lost camera is reported once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import simplejpeg

from edge.frames import FrameBuffer
from hardware.imaging import encode_jpeg
from hardware.sim_camera import SimCamera

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, 10, 0, 0)


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
    image = simplejpeg.decode_jpeg(best.jpeg, "BGR")
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


class ListCamera:
    """Hands out the given frames in turn, then the last one again."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames
        self.taken = 0

    @property
    def resolution(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h

    def capture(self) -> np.ndarray:
        frame = self.frames[min(self.taken, len(self.frames) - 1)]
        self.taken += 1
        return frame

    def close(self) -> None:
        pass


def box(frame: np.ndarray, k: int) -> np.ndarray:
    """A k x k mean filter (motion or focus blur), numpy only."""
    padded = np.pad(frame.astype(np.uint32), ((k // 2, k - 1 - k // 2),) * 2 + ((0, 0),), "edge")
    h, w = frame.shape[:2]
    total = sum(padded[dy : dy + h, dx : dx + w] for dy in range(k) for dx in range(k))
    return (total // (k * k)).astype(np.uint8)


def test_the_ring_picture_is_the_unblurred_one_of_the_recent_frames():
    sharp = SimCamera(640, 480, seed=21, visitor=True).render(0, False, T0)
    frames = [box(sharp, 5), box(sharp, 3), sharp, box(sharp, 7), box(sharp, 3)]
    camera = ListCamera(frames)
    buf = FrameBuffer(camera, width=640, quality=80, size=5, interval_s=0.001)
    for _ in frames:  # as the buffer's thread would, without its timing
        buf._stills.append(buf._still())
    best = buf.best()
    assert best is not None
    assert best.jpeg == encode_jpeg(sharp, quality=80), "the sharp frame, not a blurred one"
    assert camera.taken == 5, "chosen from the buffer: no extra capture at the press"


def test_the_agent_process_loads_neither_opencv_nor_numpy_random():
    """OpenCV costs the agent some 35 MB resident and numpy.random 6 MB: neither may load."""
    code = """
        import sys
        import doorstep.cli, edge.cli, edge.runner
        from edge.frames import FrameBuffer
        from hardware.simulated import SimulatedBoard
        board = SimulatedBoard(camera_size=(1280, 720))
        board.visitor = True
        still = FrameBuffer(board.hardware.camera, width=640).best()
        board.close()
        assert still is not None and still.jpeg[:2] == b"\\xff\\xd8", still
        print(sorted(m for m in ("cv2", "numpy.random") if m in sys.modules))
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
