"""Turns command-line arguments (and an optional deployment folder) into ``KitOptions``.

>>> options = kit_options(parser.parse_args([...]))               # doctest: +SKIP
"""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware_config.deployment_layout import DeploymentLayout
from firmware_config.registry import SERVICE_PREFIX
from protocol.errors import KeyFileError
from protocol.ids import check_device_id
from protocol.mqtt import TlsFiles
from protocol.signing import load_private_key, load_public_key

from .errors import ConformanceSetupError
from .outage import ShellCommands
from .session import KitOptions
from .traffic import BrokerTarget

HUB_IDENTITY = "hub"


def parse_broker(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConformanceSetupError(f"--broker {text!r} must be HOST:PORT, e.g. hub.local:8883")
    return host, int(port)


def _pick(given: Path | None, default: Path | None, what: str) -> Path | None:
    path = given or default
    if path is not None and not path.is_file():
        raise ConformanceSetupError(f"{what} {path} does not exist")
    return path


def _restart_commands(args: argparse.Namespace) -> ShellCommands | None:
    given = {
        "--broker-stop-cmd": getattr(args, "broker_stop_cmd", None),
        "--broker-start-cmd": getattr(args, "broker_start_cmd", None),
        "--event-cmd": getattr(args, "event_cmd", None),
    }
    if not any(given.values()):
        return None
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        raise ConformanceSetupError(
            f"the broker restart check needs all three of {', '.join(given)}; "
            f"missing: {', '.join(missing)}"
        )
    stop, start, event = given.values()
    return ShellCommands(stop_cmd=str(stop), start_cmd=str(start), event_cmd=str(event))


def kit_options(args: argparse.Namespace) -> KitOptions:
    """Validate the arguments; every missing or unreadable file is named."""
    host, port = parse_broker(args.broker)
    check_device_id(args.device)
    restart = _restart_commands(args)
    layout = DeploymentLayout(args.deployment) if args.deployment else None
    service = layout.service_dir(HUB_IDENTITY) if layout else None
    ca = _pick(args.ca, layout.ca_cert if layout else None, "CA certificate")
    cert = _pick(args.cert, service / "client.pem" if service else None, "client certificate")
    key = _pick(args.key, service / "client.key" if service else None, "client key")
    hub_key = _pick(args.hub_key, layout.hub_signing_key if layout else None, "hub signing key")
    device_key = _pick(
        args.device_key,
        layout.device_signing_public(args.device) if layout else None,
        "device public key",
    )
    if hub_key is None or device_key is None:
        raise ConformanceSetupError(
            "the kit needs --hub-key (to sign probes the device trusts) and --device-key "
            "(to verify its acknowledgements), or --deployment DIR"
        )
    tls = None
    if ca is not None:
        if cert is None or key is None:
            raise ConformanceSetupError(
                f"TLS needs --cert and --key of a hub-like identity ({SERVICE_PREFIX}hub)"
            )
        tls = TlsFiles(ca=ca, cert=cert, key=key)
    try:
        signing, verifying = load_private_key(hub_key), load_public_key(device_key)
    except KeyFileError as exc:
        raise ConformanceSetupError(str(exc)) from None
    return KitOptions(
        broker_control=restart,
        event_source=restart.event if restart else None,
        outage_s=getattr(args, "outage", 3.0),
        target=BrokerTarget(host, port, tls),
        device_id=args.device,
        hub_key=signing,
        device_key=verifying,
        ack_timeout_s=args.ack_timeout,
        listen_s=args.listen,
        allow_unlock=args.allow_unlock,
        provoke_will=args.provoke_will,
    )
