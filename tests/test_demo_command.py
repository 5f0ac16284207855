"""The README's first command ends in ``doorstep demo``: it must start and stop cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def test_demo_starts_broker_and_stops_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-m", "doorstep", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 20
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "press Ctrl-C" in line or not line:
            break
    assert any("broker ready" in line for line in lines), "".join(lines)
    log = next(line for line in lines if "broker ready" in line).split("log: ")[-1].strip()
    conf = log.replace("mosquitto.log", "mosquitto.conf")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "stopped" in out
    still = subprocess.run(["pgrep", "-f", conf], capture_output=True, text=True)
    assert still.stdout.strip() == "", "the demo left its broker running"
