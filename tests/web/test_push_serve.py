"""``doorstep serve`` with Web Push on: the deployment's VAPID key is made at first start
(private, in the hub's keys folder), kept across restarts, and the push routes are served."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_config.mosquitto import free_port
from hub.notify import VAPID_KEY_FILE, VapidKeys
from protocol.signing import private_key_pem


def _serve(data: Path, broker: Any) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = os.environ | {
        "DOORSTEP_HUB_DATA_DIR": str(data),
        "DOORSTEP_HUB_MQTT_HOST": broker.host,
        "DOORSTEP_HUB_MQTT_PORT": str(broker.port),
        "DOORSTEP_HUB_MQTT_CLIENT_ID": f"hub-push-{port}",
        "DOORSTEP_NOTIFY_VAPID_SUBJECT": "mailto:ops@doorstep.example",
    }
    cmd = [sys.executable, "-m", "doorstep", "serve", "--port", str(port)]
    # A file, not a pipe: a pipe nobody reads could fill up and stall the server.
    log = (data / "serve.log").open("ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()  # the child has its own copy
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    proc.wait(10)
    tail = (data / "serve.log").read_text()[-2000:]
    raise AssertionError(f"doorstep serve did not come up: {tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


def test_serve_makes_the_vapid_key_once_and_serves_push_routes(
    tmp_path: Path, plain_broker: Any
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "hub-signing.key").write_bytes(
        private_key_pem(Ed25519PrivateKey.generate())
    )
    key_file = tmp_path / "keys" / VAPID_KEY_FILE
    proc, base = _serve(tmp_path, plain_broker)
    try:
        assert key_file.stat().st_mode & 0o077 == 0
        first = VapidKeys.load(key_file).application_server_key
        # Served, and (like every API route) only with a session.
        assert httpx.get(f"{base}/api/push/vapid-key").status_code == 401
    finally:
        _stop(proc)
    proc, _ = _serve(tmp_path, plain_broker)
    _stop(proc)
    assert VapidKeys.load(key_file).application_server_key == first
