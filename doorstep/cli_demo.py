"""``doorstep demo``: run the whole system on this machine.

A fresh deployment every run (CA, certificates, keys), a private Mosquitto with
mutual TLS, the hub and web app (``doorstep serve``) on SQLite, and one door running
the real edge agent on the simulated board, with its simulator page. Prints the
URLs and one-time invitations; Ctrl-C stops everything. See doorstep/demo/.

    $ doorstep demo
    $ doorstep demo --web-port 8080 --sim-port 8081 --keep
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run broker, hub, web app and a simulated door here",
        description=(
            "Run the whole system on this machine with a freshly generated deployment "
            "and one simulated door. Ctrl-C stops it."
        ),
    )
    p.add_argument("--web-port", type=int, default=0, help="web app port (default: a free one)")
    p.add_argument("--mqtt-port", type=int, default=0, help="broker port (default: a free one)")
    p.add_argument(
        "--sim-port", type=int, default=0, help="door simulator port (default: a free one)"
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the demo folder (keys, database, logs) on stop"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .demo.session import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            web_port=args.web_port, mqtt_port=args.mqtt_port, sim_port=args.sim_port, keep=args.keep
        )
    )
