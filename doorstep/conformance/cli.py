"""``doorstep conformance``: check that a device speaks the Doorstep protocol.

    $ doorstep conformance --broker hub.local:8883 --device door-1a2b3c --deployment deploy/
    $ doorstep conformance --broker 127.0.0.1:1883 --device door-1a2b3c \\
          --hub-key hub-signing.key --device-key device-signing.pub --json

Exit status: 0 when nothing failed, 1 when a check failed, 2 when the kit could not run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_HELP = "check a device against the Doorstep protocol (presence, events, commands, acks)"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "conformance",
        help=_HELP,
        description=_HELP,
        epilog="exit status: 0 nothing failed, 1 a check failed, 2 the kit could not run; "
        "see docs/conformance.md",
    )
    p.add_argument("--broker", required=True, metavar="HOST:PORT", help="the device's broker")
    p.add_argument("--device", required=True, metavar="ID", help="device id (its cert's CN)")
    p.add_argument("--deployment", type=Path, metavar="DIR",
                   help="a deployment folder: fills in the CA, the hub's client certificate "
                   "and key, the hub signing key and the device's public key")  # fmt: skip
    p.add_argument("--ca", type=Path, help="CA certificate that signed the broker (enables TLS)")
    p.add_argument("--cert", type=Path, help="client certificate of a hub-like identity")
    p.add_argument("--key", type=Path, help="its private key")
    p.add_argument("--hub-key", type=Path, help="the hub's Ed25519 signing key (PEM)")
    p.add_argument("--device-key", type=Path, help="the device's Ed25519 public key (PEM)")
    p.add_argument("--ack-timeout", type=float, default=5.0, metavar="S",
                   help="seconds to wait for each acknowledgement (default 5)")  # fmt: skip
    p.add_argument("--listen", type=float, default=0.0, metavar="S",
                   help="also watch S seconds of events (ring the bell meanwhile)")  # fmt: skip
    p.add_argument("--allow-unlock", action="store_true",
                   help="send one real unlock (the door opens for 1 s)")  # fmt: skip
    p.add_argument(
        "--provoke-will",
        action="store_true",
        help="cut the device off by taking over its client id, to see its last will",
    )
    p.add_argument("--broker-stop-cmd", metavar="CMD",
                   help="shell command that stops the device's broker (outbox restart check; "
                   "the broker must have no hub on it: the kit plays the hub)")  # fmt: skip
    p.add_argument("--broker-start-cmd", metavar="CMD",
                   help="shell command that starts it again on the same port")  # fmt: skip
    p.add_argument("--event-cmd", metavar="CMD",
                   help="shell command that makes the device produce an event "
                   "(e.g. presses the bell); run while the broker is down")  # fmt: skip
    p.add_argument("--outage", type=float, default=3.0, metavar="S",
                   help="seconds the broker stays down (default 3)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from .errors import ConformanceError
    from .report import render_json, render_text
    from .runner import run
    from .settings import kit_options

    try:
        report = run(kit_options(args))
    except (ConformanceError, ValueError) as exc:
        print(f"doorstep conformance: {exc}", file=sys.stderr)
        return 2
    print(render_json(report) if args.json else render_text(report))
    return 0 if report.passed else 1
