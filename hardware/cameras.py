"""Real cameras: the Raspberry Pi Camera Module (picamera2) and a USB camera (OpenCV).

picamera2 needs libcamera, which only Raspberry Pi OS ships, so it is imported
inside ``PiCamera.__init__`` and nowhere else: this module imports anywhere.
OpenCV likewise is imported only by ``UsbCamera``: it would add some 35 MB to the edge
agent's resident memory, and a Pi with its camera module never needs it.

    >>> camera = UsbCamera(0, width=640, height=480)   # doctest: +SKIP
    >>> camera.capture().shape                          # doctest: +SKIP
    (480, 640, 3)
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .errors import CameraUnavailable
from .interfaces import Frame

PICAMERA2_MISSING = (
    "the Pi Camera Module needs picamera2 and libcamera, which only exist on Raspberry Pi OS "
    "(install with 'sudo apt install python3-picamera2' on the Pi): on this machine set "
    '[camera] kind = "usb" or "simulated"'
)


class PiCamera:
    """Raspberry Pi Camera Module through picamera2, streaming BGR frames at (width, height)."""

    def __init__(self, width: int = 640, height: int = 480, *, camera_num: int = 0) -> None:
        try:
            from picamera2 import Picamera2  # only here: it needs libcamera
        except ImportError as exc:  # picamera2 absent, or present without libcamera
            raise CameraUnavailable(f"{PICAMERA2_MISSING} ({exc})") from exc
        self._lock = threading.Lock()
        try:
            self._camera: Any = Picamera2(camera_num)
            # A video configuration keeps frames flowing, so a ring burst takes
            # consecutive frames rather than one still-mode capture per frame.
            # "RGB888" is BGR in memory: what hardware/imaging.py's encoder expects.
            config = self._camera.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"}, buffer_count=4
            )
            self._camera.configure(config)
            self._camera.start()
        except (RuntimeError, IndexError, OSError) as exc:
            raise CameraUnavailable(
                f"Pi camera {camera_num} could not start ({exc}): check the ribbon cable and "
                "that 'rpicam-hello --list-cameras' lists it"
            ) from exc
        self._size = (width, height)
        self._closed = False

    @property
    def resolution(self) -> tuple[int, int]:
        return self._size

    def capture(self) -> Frame:
        with self._lock:
            if self._closed:
                raise CameraUnavailable("the Pi camera is closed")
            try:
                frame = self._camera.capture_array("main")
            except (RuntimeError, OSError) as exc:
                raise CameraUnavailable(f"the Pi camera stopped delivering frames ({exc})") from exc
        return np.ascontiguousarray(frame[:, :, :3])

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._camera.stop()
                self._camera.close()


class UsbCamera:
    """A USB (UVC) camera through ``cv2.VideoCapture``.

    ``source`` is the camera index (0 is /dev/video0) or a device path; a video
    file also works, which is how the tests drive this class without a camera.
    """

    def __init__(self, source: int | str = 0, *, width: int = 640, height: int = 480) -> None:
        import cv2  # only a USB camera needs OpenCV (see the module docstring)

        self.source = source
        self._lock = threading.Lock()
        self._capture = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            self._capture.release()
            device = f"/dev/video{source}" if isinstance(source, int) else source
            raise CameraUnavailable(
                f"no camera at {device}: check the cable and 'v4l2-ctl --list-devices', "
                'then set [camera] usb_index; or use kind = "simulated"'
            )
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # A deep driver buffer would hand us a stale frame from before the ring.
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._size = (
            int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)) or width,
            int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) or height,
        )
        self._closed = False

    @property
    def resolution(self) -> tuple[int, int]:
        return self._size

    def capture(self) -> Frame:
        with self._lock:
            if self._closed:
                raise CameraUnavailable(f"USB camera {self.source} is closed")
            ok, frame = self._capture.read()
        if not ok or frame is None:
            raise CameraUnavailable(
                f"USB camera {self.source} returned no frame: it may have been unplugged"
            )
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)  # grey to BGR
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._capture.release()
