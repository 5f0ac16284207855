"""The Pi camera driver off a Pi: a clear error, and the package imports without picamera2."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from hardware.cameras import PiCamera
from hardware.errors import CameraUnavailable, HardwareError

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, extra_path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(ROOT)) if p)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_picamera_off_a_pi_says_why_and_what_to_do() -> None:
    try:
        import picamera2  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - only on a Raspberry Pi
        pytest.skip("picamera2 imports here: this is a Pi")
    with pytest.raises(CameraUnavailable) as info:
        PiCamera(640, 480)
    message = str(info.value)
    assert "Raspberry Pi OS" in message
    assert "picamera2" in message
    assert "libcamera" in message
    assert 'kind = "usb" or "simulated"' in message
    assert isinstance(info.value, HardwareError)


def test_picamera_installed_without_libcamera_fails_the_same_way() -> None:
    """picamera2 installs off a Pi but its import fails on libcamera: same clear error."""
    fake = tempfile.mkdtemp(prefix="doorstep-fake-picamera2-")
    pkg = Path(fake) / "picamera2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import libcamera  # as the real package does\n")
    result = run_python(
        """
        from hardware.cameras import PiCamera
        from hardware.errors import CameraUnavailable
        try:
            PiCamera()
        except CameraUnavailable as exc:
            print("CLEAR:", exc)
        """,
        extra_path=fake,
    )
    assert result.returncode == 0, result.stderr
    assert "CLEAR: the Pi Camera Module needs picamera2 and libcamera" in result.stdout
    assert "No module named 'libcamera'" in result.stdout


def test_hardware_imports_without_picamera2() -> None:
    result = run_python(
        """
        import importlib, pkgutil, sys

        class NoPicamera2:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("picamera2", "libcamera"):
                    raise ImportError(f"{name} is blocked for this test")
                return None

        sys.meta_path.insert(0, NoPicamera2())
        import hardware
        names = [m.name for m in pkgutil.iter_modules(hardware.__path__)]
        for name in names:
            importlib.import_module(f"hardware.{name}")
        from hardware.simulated import SimulatedBoard
        board = SimulatedBoard()
        board.ring()
        board.close()
        assert "picamera2" not in sys.modules
        assert "cv2" not in sys.modules, "only UsbCamera loads OpenCV, when it is built"
        print("OK", len(names))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK ")
    assert int(result.stdout.split()[1]) >= 8
