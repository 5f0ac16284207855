"""``doorstep provision``: the deployment's CA, devices, services and broker configuration.

    $ doorstep provision init --dir /srv/doorstep --host hub.local
    $ doorstep provision add-device --dir /srv/doorstep --name "Front door"
    $ doorstep provision broker-config --dir /srv/doorstep --bind 0.0.0.0
    $ doorstep provision remove-device door-3f9a1c7e2b --dir /srv/doorstep

Every error is one line on stderr saying what to do. Kept light: the modules that
need ``cryptography`` and pydantic are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .deployment import Deployment
    from .mosquitto import BrokerSettings

HARDWARE = ("pi4", "pi5", "pi-zero-2w", "simulated")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provision", help="create the CA, device bundles and broker configuration")
    cmds = p.add_subparsers(dest="provision_command", metavar="SUBCOMMAND", required=True)

    def command(name: str, help_: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        c = cmds.add_parser(name, help=help_, description=help_)
        c.add_argument(
            "--dir", type=Path, required=True, help="the deployment folder (holds the CA key)"
        )
        c.set_defaults(handler=_guarded(handler))
        return c

    init = command("init", "create the CA, broker certificate, hub certificate and key", run_init)
    init.add_argument(
        "--host",
        action="append",
        default=[],
        help="broker host name or IP devices dial (repeatable; localhost is always added)",
    )
    init.add_argument("--port", type=int, default=8883, help="broker TLS port (default 8883)")
    init.add_argument("--force", action="store_true", help="replace an existing CA and keys")

    add = command("add-device", "register a door and write its bundle for the Pi", run_add)
    add.add_argument("--id", help="device id (default: a fresh random one)")
    add.add_argument("--name", help="human name, e.g. 'Front door'")
    hw = add.add_mutually_exclusive_group()
    hw.add_argument("--hardware", choices=HARDWARE, default="pi4", help="hardware template")
    hw.add_argument("--template", type=Path, help="your own device.toml to copy hardware from")

    rm = command("remove-device", "revoke a door's certificate and drop it", run_remove)
    rm.add_argument("device_id", help="the device to revoke")
    rm.add_argument(
        "--broker-dir", type=Path, help="broker folder to update (default DIR/mosquitto)"
    )

    svc = command("add-service", "client certificate for another hub process", run_service)
    svc.add_argument("name", help="service name, e.g. hub-2 (its identity becomes svc.NAME)")
    svc.add_argument("--force", action="store_true", help="replace (and revoke) its certificate")
    svc.add_argument(
        "--role",
        choices=["hub", "home_assistant"],
        default="hub",
        help="hub (default): a hub process; home_assistant: Home Assistant's MQTT account "
        "(reads doorstep/ha/, requests unlocks from the hub, never reaches a door)",
    )

    conf = command("broker-config", "write the Mosquitto folder for this deployment", run_broker)
    conf.add_argument("--out", type=Path, help="broker folder (default DIR/mosquitto)")
    conf.add_argument("--port", type=int, help="listen port (default: the deployment's)")
    conf.add_argument("--bind", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    conf.add_argument(
        "--reload", action="store_true", help="SIGHUP brokers running from this folder"
    )

    ls = command("list", "show devices, services and revocations", run_list)
    ls.add_argument("--json", action="store_true", help="machine-readable output")


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn every provisioning error into one line on stderr and exit code 1."""

    def run(args: argparse.Namespace) -> int:
        from .errors import ConfigError

        try:
            return handler(args)
        except ConfigError as exc:
            print(f"doorstep provision: error: {exc}", file=sys.stderr)
            return 1

    return run


def run_init(args: argparse.Namespace) -> int:
    from .deployment import Deployment

    dep = Deployment.init(args.dir, args.host, args.port, force=args.force)
    reg = dep.registry()
    print(f"deployment ready in {dep.root}")
    print(f"  CA:              {dep.ca_cert}  (key {dep.ca_key}, keep it offline if you can)")
    print(f"  broker names:    {', '.join(reg.broker_hosts)}  port {reg.broker_port}")
    print(f"  hub certificate: {dep.service_dir('hub')}")
    print(f"  hub signing key: {dep.hub_signing_key}")
    print(f"next: doorstep provision add-device --dir {dep.root} --name 'Front door'")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from .deployment import Deployment

    dep = Deployment.open(args.dir)
    rec = dep.add_device(args.id, args.name, hardware=args.hardware, template=args.template)
    bundle = dep.bundles / rec.id
    print(f"device {rec.id} ({rec.name}) added; certificate serial {rec.serial}")
    print(f"  bundle: {bundle}/  and  {bundle}.tar.gz  (private keys: delete after copying)")
    print(
        f"next: scp {bundle}.tar.gz pi@<door>: && ssh pi@<door> "
        "'sudo tar -C /etc/doorstep -xzf <file>'"
    )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from .broker_config import apply, reload_running
    from .deployment import Deployment

    dep = Deployment.open(args.dir)
    revoked = dep.remove_device(args.device_id)
    print(f"device {revoked.identity} revoked (serial {revoked.serial}); CRL and ACL updated")
    broker_dir = args.broker_dir or dep.default_broker_dir
    if not (broker_dir / "mosquitto.conf").is_file():
        print(f"next: doorstep provision broker-config --dir {dep.root} --reload")
        return 0
    settings = _existing_settings(dep, broker_dir)
    apply(dep, settings)
    pids = reload_running(settings.layout.conf)
    if pids:
        print(f"broker {', '.join(map(str, pids))} reloaded: the device can no longer connect")
    else:
        print(f"broker folder {broker_dir} updated; no broker is running from it right now")
    return 0


def _existing_settings(dep: Deployment, broker_dir: Path) -> BrokerSettings:
    """Keep the port and address the broker folder was generated with."""
    from .broker_config import broker_settings

    port, bind = None, "0.0.0.0"
    for line in (broker_dir / "mosquitto.conf").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "listener":
            port, bind = int(parts[1]), parts[2]
    return broker_settings(dep, broker_dir, port=port, bind=bind)


def run_service(args: argparse.Namespace) -> int:
    from .deployment import Deployment
    from .registry import ServiceRole

    dep = Deployment.open(args.dir)
    rec = dep.add_service(args.name, force=args.force, role=ServiceRole(args.role))
    tls = dep.service_tls(rec.name)
    print(f"service {rec.identity} added: certificate {tls.cert}, key {tls.key}")
    print(f"next: doorstep provision broker-config --dir {dep.root} --reload")
    return 0


def run_broker(args: argparse.Namespace) -> int:
    from .broker_config import apply, broker_settings, reload_running
    from .deployment import Deployment

    dep = Deployment.open(args.dir)
    settings = broker_settings(dep, args.out, port=args.port, bind=args.bind)
    changed = apply(dep, settings)
    conf = settings.layout.conf
    print(f"broker folder {settings.layout.root}: {len(changed)} file(s) changed")
    for path in changed:
        print(f"  {path}")
    if args.reload:
        pids = reload_running(conf)
        print(f"reloaded broker(s): {', '.join(map(str, pids)) or 'none running'}")
    else:
        print(f"run it with: mosquitto -c {conf}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from .deployment import Deployment

    reg = Deployment.open(args.dir).registry()
    if args.json:
        print(json.dumps(reg.model_dump(mode="json"), indent=2, sort_keys=True))
        return 0
    print(f"broker: {', '.join(reg.broker_hosts)} port {reg.broker_port}")
    print(f"devices ({len(reg.devices)}):")
    for rec in sorted(reg.devices.values(), key=lambda r: r.id):
        print(f"  {rec.id:<20} {rec.name:<24} expires {rec.not_after:%Y-%m-%d}")
    print(f"services ({len(reg.services)}):")
    for svc in sorted(reg.services.values(), key=lambda s: s.name):
        print(f"  {svc.identity:<20} expires {svc.not_after:%Y-%m-%d}")
    print(f"revoked certificates: {len(reg.revoked)}")
    return 0
