"""Frame helpers for snapshots: sharpness, choosing the sharpest of a burst, JPEG encoding.

numpy and simplejpeg (libjpeg-turbo; what picamera2 itself encodes with) only: OpenCV
would cost the edge agent's process some 35 MB of resident memory for three calls.

>>> import numpy as np
>>> frame = np.zeros((720, 1280, 3), np.uint8)
>>> encode_jpeg(frame, max_width=640)[:2]
b'\\xff\\xd8'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import simplejpeg

from .errors import ImagingError
from .interfaces import Frame


def _check_frame(frame: object) -> Frame:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3:
        raise ImagingError("expected a BGR frame: a uint8 numpy array of shape (height, width, 3)")
    if frame.shape[2] != 3:
        raise ImagingError(f"expected 3 colour channels (BGR), got {frame.shape[2]}")
    return frame


def sharpness(frame: Frame) -> float:
    """Variance of the Laplacian of the green channel, every other pixel: higher is sharper.

    Green stands in for grey (it carries most of the luminance, and a Bayer sensor has
    twice as many green sites), which saves the colour conversion. Taking every other
    row and column without smoothing first keeps the fine detail that blur removes
    (aliasing only folds it to lower frequencies), and a quarter of the pixels makes the
    score about 1 ms at 640x480: it only has to rank frames of the same scene.
    """
    grey = _check_frame(frame)[::2, ::2, 1].astype(np.int16)
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    centre = grey[1:-1, 1:-1]
    lap = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * centre
    return float(lap.var())


def pick_sharpest(frames: Sequence[Frame]) -> tuple[int, Frame]:
    """(index, frame) of the sharpest frame of a burst."""
    if not frames:
        raise ImagingError("no frames to choose from: capture at least one")
    scores = [sharpness(f) for f in frames]
    best = max(range(len(scores)), key=scores.__getitem__)
    return best, frames[best]


def _area_axis(image: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Shrink one axis to ``size`` by averaging the input pixels each output pixel covers."""
    length = image.shape[axis]
    if length % size == 0:  # a whole factor (1280 -> 640): k strided slices, 10x reduceat's speed
        k = length // size
        index = [slice(None)] * image.ndim
        index[axis] = slice(0, None, k)
        total = image[tuple(index)].astype(np.uint16 if k <= 257 else np.uint32)
        for i in range(1, k):
            index[axis] = slice(i, None, k)
            total += image[tuple(index)]
        total += k // 2
        total //= k
        return total.astype(np.uint8)
    edges = (np.arange(size + 1) * length + size // 2) // size  # rounded bin boundaries
    widest = int(np.diff(edges).max())
    # uint16 holds a sum of up to 257 bytes: no widening to 32 bits for usual factors.
    dtype = np.uint16 if widest <= 257 else np.uint32
    sums = np.add.reduceat(image, edges[:-1], axis=axis, dtype=dtype)
    counts = np.diff(edges).astype(dtype)
    shape = [1] * image.ndim
    shape[axis] = size
    counts = counts.reshape(shape)
    return ((sums + counts // 2) // counts).astype(np.uint8)


def resize_to_width(frame: Frame, max_width: int) -> Frame:
    """Scale down (never up) so the width is at most ``max_width``, keeping the aspect.

    Area averaging (like OpenCV's INTER_AREA): every input pixel counts, so no moiré.
    """
    h, w = _check_frame(frame).shape[:2]
    if max_width <= 0:
        raise ImagingError(f"max_width = {max_width} must be positive, e.g. 640")
    if w <= max_width:
        return frame
    new_h = max(1, round(h * max_width / w))
    return _area_axis(_area_axis(frame, new_h, 0), max_width, 1)


def encode_jpeg(frame: Frame, max_width: int | None = None, quality: int = 80) -> bytes:
    """JPEG bytes of ``frame`` (4:2:0, as cameras write them), first scaled to ``max_width``."""
    if not 1 <= quality <= 100:
        raise ImagingError(f"JPEG quality {quality} is out of range: use 1-100 (80 is typical)")
    if max_width is not None:
        frame = resize_to_width(frame, max_width)
    frame = np.ascontiguousarray(_check_frame(frame))
    try:
        return simplejpeg.encode_jpeg(frame, quality, "BGR", "420", True)
    except (ValueError, RuntimeError) as exc:
        raise ImagingError(f"could not encode the frame as JPEG ({exc})") from exc
