"""A small rolling buffer of recent camera frames, so the picture is ready at the press.

A background thread captures a frame every ``interval_s`` and scores its
sharpness; ``best()`` returns the sharpest of the last few. Losing the camera
is reported once (and its return once), never raised into the ring path.

    >>> buf = FrameBuffer(camera, on_lost=..., on_restored=...); buf.start()  # doctest: +SKIP
    >>> frame = buf.best()                                                     # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from hardware.errors import CameraUnavailable
from hardware.imaging import sharpness
from hardware.interfaces import Camera, Frame

log = logging.getLogger(__name__)


class FrameBuffer:
    def __init__(
        self,
        camera: Camera,
        *,
        size: int = 5,
        interval_s: float = 0.2,
        max_age_s: float = 2.0,
        on_lost: Callable[[str], None] = lambda _detail: None,
        on_restored: Callable[[], None] = lambda: None,
    ) -> None:
        self.camera = camera
        self.interval_s = interval_s
        self.max_age_s = max_age_s
        self._frames: deque[tuple[float, float, Frame]] = deque(maxlen=size)
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
                self._frames.clear()
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

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self._paused.is_set():
                continue
            frame = self._capture()
            if frame is not None:
                score = sharpness(frame)
                with self._lock:
                    self._frames.append((time.monotonic(), score, frame))

    def best(self) -> Frame | None:
        """The sharpest recent frame, or a fresh capture if none is recent enough."""
        if self._paused.is_set():
            return None
        cutoff = time.monotonic() - self.max_age_s
        with self._lock:
            recent = [(score, frame) for at, score, frame in self._frames if at >= cutoff]
        if recent:
            return max(recent, key=lambda item: item[0])[1]
        return self._capture()
