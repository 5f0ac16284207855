"""Contract: every Camera returns BGR uint8 frames of its stated size, and fails clearly."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import datetime

import cv2
import numpy as np
import pytest

from hardware.cameras import UsbCamera
from hardware.errors import CameraUnavailable, HardwareError
from hardware.interfaces import Camera
from hardware.sim_camera import SimCamera
from hardware.simulated import SimulatedBoard

USB_FRAMES = 8


@pytest.fixture(scope="module")
def recorded_video() -> Iterator[str]:
    """A short MJPEG clip made from simulated frames: what a UVC camera would deliver."""
    folder = tempfile.mkdtemp(prefix="doorstep-usbcam-")
    path = os.path.join(folder, "door.avi")
    source = SimCamera(320, 240, seed=5, visitor=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    assert writer.isOpened(), "OpenCV cannot write MJPEG here"
    for _ in range(USB_FRAMES):
        writer.write(source.capture())
    writer.release()
    yield path
    os.remove(path)
    os.rmdir(folder)


@pytest.fixture(params=["sim-camera-vga", "sim-camera-720p", "simulated-board", "usb-camera-file"])
def camera(request: pytest.FixtureRequest, recorded_video: str) -> Iterator[Camera]:
    if request.param == "simulated-board":
        board = SimulatedBoard(camera_size=(320, 240))
        board.visitor = True
        yield board.camera
        board.close()
        return
    if request.param == "usb-camera-file":
        cam: Camera = UsbCamera(recorded_video, width=320, height=240)
    elif request.param == "sim-camera-720p":
        cam = SimCamera(1280, 720, seed=1)
    else:
        cam = SimCamera(640, 480, seed=1, clock=lambda: datetime(2025, 1, 2, 3, 4, 5))
    yield cam
    cam.close()


def test_fits_the_interface(camera: Camera) -> None:
    assert isinstance(camera, Camera)


def test_frames_are_bgr_uint8_of_the_stated_size(camera: Camera) -> None:
    width, height = camera.resolution
    for _ in range(3):
        frame = camera.capture()
        assert frame.dtype == np.uint8
        assert frame.shape == (height, width, 3)
        assert frame.flags["C_CONTIGUOUS"]
        assert 20 < frame.mean() < 235  # a picture, not a black or white field
        assert frame.std() > 10


def test_capture_after_close_fails_clearly(camera: Camera) -> None:
    camera.close()
    camera.close()  # idempotent
    with pytest.raises(CameraUnavailable, match="closed") as info:
        camera.capture()
    assert isinstance(info.value, HardwareError)
    assert isinstance(info.value, RuntimeError)


def test_usb_camera_that_runs_dry_fails_clearly(recorded_video: str) -> None:
    cam = UsbCamera(recorded_video)
    for _ in range(USB_FRAMES):
        cam.capture()
    with pytest.raises(CameraUnavailable, match="returned no frame"):
        cam.capture()
    cam.close()


def test_missing_usb_camera_names_the_device_and_the_fix() -> None:
    with pytest.raises(CameraUnavailable) as info:
        UsbCamera(63)
    message = str(info.value)
    assert "/dev/video63" in message
    assert "usb_index" in message
    assert '"simulated"' in message
