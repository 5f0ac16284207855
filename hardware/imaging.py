"""Frame helpers for snapshots: sharpness, choosing the sharpest of a burst, JPEG encoding.

>>> import numpy as np
>>> frame = np.zeros((720, 1280, 3), np.uint8)
>>> encode_jpeg(frame, max_width=640)[:2]
b'\\xff\\xd8'
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .errors import ImagingError
from .interfaces import Frame


def _check_frame(frame: object) -> Frame:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
        raise ImagingError("expected a BGR frame: a uint8 numpy array of shape (height, width, 3)")
    if frame.shape[2] != 3:
        raise ImagingError(f"expected 3 colour channels (BGR), got {frame.shape[2]}")
    return frame


def sharpness(frame: Frame) -> float:
    """Variance of the Laplacian of the grey image: higher is sharper (focus, motion)."""
    grey = cv2.cvtColor(_check_frame(frame), cv2.COLOR_BGR2GRAY)
    # 16-bit holds every 3x3 Laplacian of 8-bit input; meanStdDev beats numpy's var 2-3x.
    _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_16S))
    return float(std[0, 0]) ** 2


def pick_sharpest(frames: Sequence[Frame]) -> tuple[int, Frame]:
    """(index, frame) of the sharpest frame of a burst."""
    if not frames:
        raise ImagingError("no frames to choose from: capture at least one")
    scores = [sharpness(f) for f in frames]
    best = int(np.argmax(scores))
    return best, frames[best]


def resize_to_width(frame: Frame, max_width: int) -> Frame:
    """Scale down (never up) so the width is at most ``max_width``, keeping the aspect."""
    h, w = _check_frame(frame).shape[:2]
    if max_width <= 0:
        raise ImagingError(f"max_width = {max_width} must be positive, e.g. 640")
    if w <= max_width:
        return frame
    new_h = max(1, round(h * max_width / w))
    return cv2.resize(frame, (max_width, new_h), interpolation=cv2.INTER_AREA)


def encode_jpeg(frame: Frame, max_width: int | None = None, quality: int = 80) -> bytes:
    """JPEG bytes of ``frame``, first scaled down to ``max_width`` if given."""
    if not 1 <= quality <= 100:
        raise ImagingError(f"JPEG quality {quality} is out of range: use 1-100 (80 is typical)")
    if max_width is not None:
        frame = resize_to_width(frame, max_width)
    ok, buf = cv2.imencode(".jpg", _check_frame(frame), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImagingError("OpenCV could not encode the frame as JPEG")
    return buf.tobytes()
