"""``doorstep demo``: run the whole system on this machine.

Today it starts a private Mosquitto with the project's generated configuration;
hub, web app and the simulated door join it as their issues land.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import threading
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run broker, hub, web app and a simulated door here")
    p.add_argument("--mqtt-port", type=int, default=0, help="broker port (default: a free one)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from firmware_config.errors import BrokerError
    from firmware_config.mosquitto import (
        BrokerLayout,
        BrokerSettings,
        MosquittoProcess,
        free_port,
        plain_config,
    )

    root = Path(tempfile.mkdtemp(prefix="doorstep-demo-"))
    root.chmod(0o711)  # Mosquitto drops root to user 'mosquitto', which must reach root/broker
    settings = BrokerSettings(
        layout=BrokerLayout(root / "broker"), port=args.mqtt_port or free_port()
    )
    broker = MosquittoProcess(settings, plain_config(settings))
    print(f"[doorstep] starting private Mosquitto on 127.0.0.1:{settings.port} ...", flush=True)
    try:
        broker.start()
    except BrokerError as exc:
        print(f"[doorstep] error: {exc}", flush=True)
        return 1
    print(f"[doorstep] broker ready; log: {settings.layout.log}", flush=True)
    print("[doorstep] hub, web app and simulated door are not built yet (see the issues).")
    print("[doorstep] press Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
        print("[doorstep] stopped.", flush=True)
    return 0
