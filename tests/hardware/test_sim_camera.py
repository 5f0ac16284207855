"""The simulated camera: deterministic, shows a visitor when asked, cheap enough for a burst."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from hardware.errors import CameraUnavailable, InvalidCameraSettings
from hardware.imaging import encode_jpeg, pick_sharpest, sharpness
from hardware.sim_camera import SimCamera

T0 = datetime(2025, 3, 1, 10, 0, 0)


def fixed(at: datetime = T0):
    return lambda: at


def centre(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    return frame[h // 3 : h, w // 3 : 2 * w // 3].astype(np.int16)


def test_same_seed_same_frames() -> None:
    a = SimCamera(320, 240, seed=11, visitor=True, clock=fixed())
    b = SimCamera(320, 240, seed=11, visitor=True, clock=fixed())
    for _ in range(4):
        assert np.array_equal(a.capture(), b.capture())


def test_other_seed_other_scene() -> None:
    a = SimCamera(320, 240, seed=1, clock=fixed()).capture()
    b = SimCamera(320, 240, seed=2, clock=fixed()).capture()
    assert np.abs(a.astype(np.int16) - b).mean() > 5


def test_consecutive_frames_carry_sensor_noise_only() -> None:
    cam = SimCamera(320, 240, seed=3, clock=fixed())
    a, b = cam.capture().astype(np.int16), cam.capture().astype(np.int16)
    diff = np.abs(a - b)
    assert 1.0 < diff.mean() < 12.0  # noise, not a different picture
    assert cam.frames_captured == 2


def test_visitor_appears_in_the_middle_of_the_picture() -> None:
    empty = SimCamera(640, 480, seed=4, clock=fixed()).capture()
    cam = SimCamera(640, 480, seed=4, visitor=True, clock=fixed())
    person = cam.capture()
    assert np.abs(centre(person) - centre(empty)).mean() > 20
    h, w = empty.shape[:2]
    corner = (slice(h // 10, h // 4), slice(w // 8, w // 4))  # houses across the street
    assert np.abs(person[corner].astype(np.int16) - empty[corner]).mean() < 12
    cam.visitor = False
    assert np.abs(centre(cam.capture()) - centre(empty)).mean() < 12


def test_timestamp_follows_the_clock() -> None:
    a = SimCamera(640, 480, seed=6, clock=fixed(T0)).render(0, False, T0)
    b = SimCamera(640, 480, seed=6, clock=fixed(T0)).render(0, False, T0.replace(hour=11))
    changed = np.argwhere(np.abs(a.astype(np.int16) - b).sum(axis=2) > 60)
    assert len(changed) > 20
    assert changed[:, 0].max() < 480 * 0.1  # only the overlay line at the top changed


def test_a_burst_has_sharper_and_blurrier_frames() -> None:
    cam = SimCamera(640, 480, seed=9, visitor=True, clock=fixed())
    burst = [cam.capture() for _ in range(8)]
    scores = [sharpness(f) for f in burst]
    assert max(scores) > 1.3 * min(scores)
    index, _ = pick_sharpest(burst)
    assert scores[index] == max(scores)


def test_cut_and_restore() -> None:
    cam = SimCamera(160, 120, seed=0)
    cam.cut()
    with pytest.raises(CameraUnavailable, match="cut"):
        cam.capture()
    cam.restore()
    assert cam.capture().shape == (120, 160, 3)


def test_too_small_is_refused() -> None:
    with pytest.raises(InvalidCameraSettings, match="at least 64x48"):
        SimCamera(32, 32)


def test_frames_encode_like_a_real_photo() -> None:
    frame = SimCamera(640, 480, seed=8, visitor=True, clock=fixed()).capture()
    jpeg = encode_jpeg(frame, quality=80)
    # A flat synthetic picture would be a few kB; noise and detail make it photo-like.
    assert 15_000 < len(jpeg) < 150_000


def test_small_frames_clip_the_time_stamp() -> None:
    frame = SimCamera(64, 48, seed=1, clock=fixed()).capture()
    assert frame.shape == (48, 64, 3)


def test_drawn_with_numpy_alone() -> None:
    """It runs in the edge agent's process: no OpenCV (35 MB), no numpy.random (6 MB)."""
    code = (
        "import sys\n"
        "from hardware.sim_camera import SimCamera\n"
        "SimCamera(320, 240, seed=1, visitor=True).capture()\n"
        "print(sorted(m for m in ('cv2', 'numpy.random') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
