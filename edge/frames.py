"""A small rolling buffer of recent camera pictures, already JPEG-encoded, so the
snapshot is ready at the moment of the press.

A background thread captures a frame every ``interval_s``, scales it to the
snapshot width, scores its sharpness and encodes it; only the JPEG is kept (a
few tens of kB instead of a raw frame's 0.9-2.7 MB). ``best()`` returns the
sharpest of the last few, ``latest()`` the newest. Losing the camera is reported
once (and its return once), never raised into the ring path.

    >>> buf = FrameBuffer(camera, width=640, on_lost=..., on_restored=...)  # doctest: +SKIP
    >>> buf.start(); still = buf.best()                                      # doctest: +SKIP
    >>> still.jpeg[:2], still.width                                          # doctest: +SKIP
    (b'\\xff\\xd8', 640)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hardware.errors import CameraUnavailable
from hardware.imaging import encode_jpeg, resize_to_width, sharpness
from hardware.interfaces import Camera, Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Still:
    """One encoded picture: what a snapshot message carries."""

    jpeg: bytes
    width: int
    height: int
    score: float  # hardware.imaging.sharpness: only compared within one buffer
    at: float  # time.monotonic() of the capture


class FrameBuffer:
    def __init__(
        self,
        camera: Camera,
        *,
        width: int = 640,
        quality: int = 80,
        size: int = 5,
        interval_s: float = 0.2,
        max_age_s: float = 2.0,
        on_lost: Callable[[str], None] = lambda _detail: None,
        on_restored: Callable[[], None] = lambda: None,
    ) -> None:
        self.camera = camera
        self.width = width
        self.quality = quality
        self.interval_s = interval_s
        self.max_age_s = max_age_s
        self._stills: deque[Still] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._lost = False
        self._on_lost = on_lost
        self._on_restored = on_restored
        self._thread = threading.Thread(target=self._run, name="frame-buffer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def pause(self, paused: bool) -> None:
        """Privacy: stop capturing (and forget what was captured)."""
        if paused:
            self._paused.set()
            with self._lock:
                self._stills.clear()
        else:
            self._paused.clear()

    @property
    def lost(self) -> bool:
        return self._lost

    def _capture(self) -> Frame | None:
        try:
            frame = self.camera.capture()
        except CameraUnavailable as exc:
            if not self._lost:
                self._lost = True
                self._on_lost(str(exc))
            return None
        if self._lost:
            self._lost = False
            self._on_restored()
        return frame

    def _still(self) -> Still | None:
        """Capture, scale, score and encode one picture (None without a frame)."""
        frame = self._capture()
        if frame is None:
            return None
        frame = resize_to_width(frame, self.width)
        height, width = frame.shape[:2]
        jpeg = encode_jpeg(frame, None, self.quality)
        return Still(jpeg, width, height, sharpness(frame), time.monotonic())

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._paused.is_set():
                continue
            try:
                still = self._still()
            except Exception:  # a bad frame must not end the buffer
                log.exception("could not process a camera frame")
                continue
            # A privacy pause that came while encoding wins: the picture is dropped.
            if still is not None and not self._paused.is_set():
                with self._lock:
                    self._stills.append(still)

    def _recent(self, max_age_s: float) -> list[Still]:
        cutoff = time.monotonic() - max_age_s
        with self._lock:
            return [s for s in self._stills if s.at >= cutoff]

    def best(self) -> Still | None:
        """The sharpest recent picture, or a fresh one if none is recent enough."""
        if self._paused.is_set():
            return None
        recent = self._recent(self.max_age_s)
        if recent:
            return max(recent, key=lambda s: s.score)
        return self._fresh()

    def latest(self, max_age_s: float) -> Still | None:
        """The newest picture if it is at most ``max_age_s`` old, else a fresh one."""
        if self._paused.is_set():
            return None
        recent = self._recent(max_age_s)
        if recent:
            return recent[-1]
        return self._fresh()

    def _fresh(self) -> Still | None:
        """A picture taken now; None if that fails (a ring goes out without its picture)."""
        try:
            return self._still()
        except Exception:
            log.exception("could not take a picture")
            return None
