"""A hub that dies without a word still tells Home Assistant its bridge is gone.

``doorstep hub run`` is started as a process with the bridge always on; once its
retained bridge status says "online" it is SIGKILLed, and the broker must publish the
hub link's last will: the retained status "offline", so every entity shows unavailable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_config.mosquitto import free_port
from protocol.codec import WireMessage
from protocol.signing import private_key_pem
from protocol.topics import HA_BRIDGE_STATUS
from tests.fixtures.broker import Received


def test_a_killed_hub_leaves_the_bridge_status_offline(
    tmp_path: Path, plain_broker: Any, link_factory: Any
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "hub-signing.key").write_bytes(
        private_key_pem(Ed25519PrivateKey.generate())
    )
    env = os.environ | {
        "DOORSTEP_HUB_DATA_DIR": str(tmp_path),
        "DOORSTEP_HUB_MQTT_HOST": plain_broker.host,
        "DOORSTEP_HUB_MQTT_PORT": str(plain_broker.port),
        "DOORSTEP_HUB_MQTT_CLIENT_ID": f"hub-will-{free_port()}",
        "DOORSTEP_HA_ALWAYS_ON": "true",
    }
    status = Received()
    watcher = link_factory()
    # The broker is shared by this worker's tests: start from no retained status at all.
    watcher.publish(WireMessage(HA_BRIDGE_STATUS, b"", qos=1, retain=True)).wait_for_publish(5)
    watcher.subscribe(HA_BRIDGE_STATUS, status)
    assert watcher.wait_subscribed()
    log_path = tmp_path / "hub.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "doorstep", "hub", "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if status.items and status.items[-1][1] == b"online":
                break
            time.sleep(0.05)
        assert status.items, log_path.read_text()
        assert status.items[-1][1] == b"online", log_path.read_text()
        seen = len(status.items)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        (*_, last) = status.wait_for(seen + 1, timeout=10)
        assert last[1] == b"offline"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # Retained: Home Assistant starting later also sees the bridge as gone.
    late = Received()
    other = link_factory()
    other.subscribe(HA_BRIDGE_STATUS, late)
    assert other.wait_subscribed()
    assert late.wait_for(1)[-1][1] == b"offline"
