"""The ``doorstep`` command. Each package adds its own subcommands.

A package contributes a module with ``register(subparsers)``; that module must
stay light (heavy imports inside the handlers) so ``doorstep --help`` is fast.

    $ doorstep config check device.toml
    $ doorstep provision init --dir deploy/
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from . import __version__

# Order is the order of --help.
COMMAND_MODULES = (
    "doorstep.cli_demo",
    "edge.cli",
    "hub.cli",
    "mobile_api.cli",
    "firmware_config.cli_config",
    "firmware_config.cli_provision",
    "protocol.cli",
    "doorstep.conformance.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doorstep",
        description="Doorstep: a care companion for the front door.",
    )
    parser.add_argument("--version", action="version", version=f"doorstep {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
