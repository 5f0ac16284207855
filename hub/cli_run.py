"""``doorstep hub run`` and ``doorstep hub register-device``.

    $ DOORSTEP_HUB_MQTT_CA=ca.pem DOORSTEP_HUB_MQTT_CERT=hub.pem DOORSTEP_HUB_MQTT_KEY=hub.key \\
      doorstep hub run
    $ doorstep hub register-device door-3f9a1c7e2b --name "Front door" \\
      --public-key bundles/door-3f9a1c7e2b/keys/device-signing.pub --home HOME_ID
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_run_commands(hub: argparse._SubParsersAction) -> None:
    run = hub.add_parser("run", help="run ingest, commands and health monitoring")
    run.add_argument("--db", metavar="URL", help="database URL (default from settings)")
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="log lines as text or one JSON object each (default: $DOORSTEP_LOG_FORMAT or text)",
    )
    run.set_defaults(handler=_run)
    reg = hub.add_parser("register-device", help="let a provisioned device's messages in")
    reg.add_argument("device_id")
    reg.add_argument("--name", required=True, help="human name, e.g. 'Front door'")
    reg.add_argument(
        "--public-key",
        type=Path,
        required=True,
        help="the device's Ed25519 public key (PEM) that signs its acks",
    )
    reg.add_argument("--home", default=None, help="id of the home it belongs to")
    reg.add_argument("--db", metavar="URL", help="database URL (default from settings)")
    reg.set_defaults(handler=_register)


def _settings(args: argparse.Namespace) -> Any:
    from .cli import _settings as settings  # one reading of --db and the environment

    return settings(args)


def _run(args: argparse.Namespace) -> int:
    import os
    import signal
    import threading

    from protocol.logs import apply_log_format

    from .runtime_settings import HubRuntimeSettings
    from .service import Hub

    apply_log_format(getattr(args, "log_format", None), os.environ)
    hub = Hub.from_settings(_settings(args), HubRuntimeSettings())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        hub.start()
    except ConnectionError as exc:
        print(f"doorstep: error: {exc}", file=sys.stderr)
        return 2
    stop.wait()
    hub.stop()
    return 0


def _register(args: argparse.Namespace) -> int:
    from protocol.base import utcnow
    from protocol.signing import load_public_key, public_key_pem

    from .audit import AuditAction, append, device_ref, ref
    from .audit.actions import RefKind
    from .errors import HubError
    from .storage.database import Database
    from .storage.devices import register_device

    try:
        pem = public_key_pem(load_public_key(args.public_key)).decode()
        db = Database.from_settings(_settings(args))
        db.upgrade()
        with db.session() as s:
            register_device(
                s,
                device_id=args.device_id,
                name=args.name,
                public_key_pem=pem,
                at=utcnow(),
                home_id=args.home,
            )
            append(
                s,
                AuditAction.DEVICE_REGISTERED,
                actor=ref(RefKind.OPERATOR, "cli"),
                at=utcnow(),
                subjects=[device_ref(args.device_id)],
            )
    except (HubError, ValueError) as exc:
        print(f"doorstep: error: {exc}", file=sys.stderr)
        return 2
    print(f"registered {args.device_id}")
    return 0
