"""``doorstep config``: check a device file, show it normalised, export its JSON Schema.

    $ doorstep config check /etc/doorstep/device.toml
    $ doorstep config show firmware_config/examples/pi4.toml
    $ doorstep config schema --check        # exit 1 if docs/schemas/ is stale

Kept light: the pydantic models are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "schemas" / "device-config.schema.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="check and describe device configuration files")
    cmds = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)

    check = cmds.add_parser("check", help="validate a device file; one line per problem")
    check.add_argument("file", type=Path, help="the device TOML file")
    check.add_argument(
        "--no-files",
        action="store_true",
        help="do not require the certificate and key files to exist",
    )
    check.set_defaults(handler=run_check)

    show = cmds.add_parser("show", help="print a device file with every default filled in")
    show.add_argument("file", type=Path, help="the device TOML file")
    show.set_defaults(handler=run_show)

    schema = cmds.add_parser("schema", help="write the device file's JSON Schema")
    schema.add_argument(
        "--output", type=Path, default=SCHEMA_PATH, help=f"where to write (default {SCHEMA_PATH})"
    )
    schema.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if the file is stale"
    )
    schema.set_defaults(handler=run_schema)


def run_check(args: argparse.Namespace) -> int:
    from .device_config import check_device_config, load_device_config

    problems = check_device_config(args.file, check_files=not args.no_files)
    if problems:
        for problem in problems:
            print(problem)
        print(f"{args.file}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    cfg = load_device_config(args.file)
    extras = [name for name in ("door_contact",) if getattr(cfg, name) is not None]
    print(
        f"OK: {args.file} is a valid config for device {cfg.device.id} "
        f"({cfg.lock.kind} on BCM {cfg.lock.relay_pin}, camera {cfg.camera.kind}"
        f"{', ' + ', '.join(extras) if extras else ''})"
    )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from .device_config import dump_device_config, load_device_config
    from .errors import DeviceConfigError

    try:
        cfg = load_device_config(args.file)
    except DeviceConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    sys.stdout.write(dump_device_config(cfg, relative_to=args.file.resolve().parent))
    return 0


def schema_text() -> str:
    """The JSON Schema of a device file, as committed under docs/schemas/."""
    from .device_config import DeviceConfig

    schema = DeviceConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def run_schema(args: argparse.Namespace) -> int:
    text = schema_text()
    output: Path = args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != text:
            state = "is missing" if current is None else "is stale"
            print(
                f"{output} {state}: run 'doorstep config schema' and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"OK: {output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0
