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

# Command -> the module that registers it. Order is the order of --help.
COMMANDS = {
    "demo": "doorstep.cli_demo",
    "edge": "edge.cli",
    "hub": "hub.cli",
    "audit": "hub.cli",
    "serve": "mobile_api.cli",
    "config": "firmware_config.cli_config",
    "provision": "firmware_config.cli_provision",
    "protocol": "protocol.cli",
    "conformance": "doorstep.conformance.cli",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def modules_for(argv: Sequence[str]) -> tuple[str, ...]:
    """Only the named command's module when the command line names one, else all.

    ``doorstep edge`` runs for months on a Pi: loading every package's subcommands
    (the conformance kit's brings cryptography) cost the agent about 9 MB resident.
    """
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return (COMMANDS[first],) if first in COMMANDS else COMMAND_MODULES


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doorstep",
        description="Doorstep: a care companion for the front door.",
    )
    parser.add_argument("--version", action="version", version=f"doorstep {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(modules_for(words))
    args = parser.parse_args(words)
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
