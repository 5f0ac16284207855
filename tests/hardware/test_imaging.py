"""Snapshot helpers: sharpness ranks blur correctly; JPEGs decode to the expected size.

OpenCV is only the reference here: the helpers themselves are numpy and simplejpeg."""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np
import pytest

from hardware.errors import HardwareError, ImagingError
from hardware.imaging import encode_jpeg, pick_sharpest, resize_to_width, sharpness
from hardware.sim_camera import SimCamera


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return SimCamera(1280, 720, seed=12, visitor=True).render(1, True, datetime(2025, 1, 1))


def test_blur_lowers_sharpness(frame: np.ndarray) -> None:
    light = cv2.GaussianBlur(frame, (0, 0), 1.0)
    heavy = cv2.GaussianBlur(frame, (0, 0), 3.0)
    assert sharpness(frame) > sharpness(light) > sharpness(heavy)


def test_pick_sharpest_finds_the_unblurred_frame(frame: np.ndarray) -> None:
    burst = [cv2.blur(frame, (5, 5)), cv2.blur(frame, (9, 1)), frame, cv2.blur(frame, (3, 3))]
    index, best = pick_sharpest(burst)
    assert index == 2
    assert best is frame


def test_pick_sharpest_needs_frames() -> None:
    with pytest.raises(ImagingError, match="no frames"):
        pick_sharpest([])


def test_encode_resizes_and_decodes(frame: np.ndarray) -> None:
    jpeg = encode_jpeg(frame, max_width=640, quality=80)
    assert jpeg[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (360, 640, 3)
    assert np.abs(cv2.resize(frame, (640, 360)).astype(int) - decoded).mean() < 8


@pytest.mark.parametrize("width", [640, 427, 500, 1000])
def test_resize_averages_like_opencv_area(frame: np.ndarray, width: int) -> None:
    """Whole factors (1280 -> 640) and the rest: close to OpenCV's INTER_AREA."""
    ours = resize_to_width(frame, width)
    height = round(720 * width / 1280)
    assert ours.shape == (height, width, 3)
    assert ours.dtype == np.uint8
    reference = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    assert np.abs(ours.astype(int) - reference).mean() < 3


def test_box_blur_of_any_size_lowers_sharpness(frame: np.ndarray) -> None:
    scores = [sharpness(cv2.blur(frame, (k, k))) if k > 1 else sharpness(frame) for k in (1, 3, 5)]
    assert scores[0] > scores[1] > scores[2]
    assert sharpness(cv2.blur(frame, (9, 1))) < scores[0], "horizontal motion blur too"


def test_sharpness_of_a_flat_or_tiny_frame_is_zero() -> None:
    assert sharpness(np.full((48, 64, 3), 128, np.uint8)) == 0.0
    assert sharpness(np.zeros((2, 2, 3), np.uint8)) == 0.0


def test_encode_never_upscales(frame: np.ndarray) -> None:
    small = resize_to_width(frame, 320)
    assert small.shape == (180, 320, 3)
    assert resize_to_width(small, 640) is small


def test_quality_trades_size(frame: np.ndarray) -> None:
    assert len(encode_jpeg(frame, quality=40)) < len(encode_jpeg(frame, quality=90))


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((10, 10), np.uint8), "BGR frame"),
        (np.zeros((10, 10, 3), np.float32), "BGR frame"),
        (np.zeros((10, 10, 4), np.uint8), "3 colour channels"),
    ],
)
def test_bad_frames_are_refused(bad: np.ndarray, match: str) -> None:
    with pytest.raises(ImagingError, match=match) as info:
        encode_jpeg(bad)
    assert isinstance(info.value, HardwareError)


def test_bad_quality_is_refused(frame: np.ndarray) -> None:
    with pytest.raises(ImagingError, match="quality 0 is out of range"):
        encode_jpeg(frame, quality=0)
