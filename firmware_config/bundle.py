"""A device bundle: everything one door needs, in a folder and a .tar.gz to copy to the Pi.

::

    door-3f9a1c7e2b/
      device.toml                  identity, broker, keys; hardware sections from a template
      certs/ca.pem                 the CA that signed the broker's certificate
      certs/device.pem, device.key this door's TLS client certificate and key (0600)
      keys/device-signing.key      this door's Ed25519 key for signing acknowledgements (0600)
      keys/hub-signing.pub         the hub's command-signing public key, pinned

    >>> files = BundleFiles(b"ca", b"cert", b"key", b"signing key", b"hub public key")
    >>> write_bundle(Path("bundles"), "door-3f9a1c7e2b", "Front door",
    ...              ("hub.local", 8883), files)                            # doctest: +SKIP
"""

from __future__ import annotations

import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .device_config import DeviceConfig, dump_device_config
from .errors import ProvisioningError
from .pki import ensure_dir, write_private, write_public

EXAMPLES = Path(__file__).resolve().parent / "examples"
HARDWARE_TEMPLATES = ("pi4", "pi5", "pi-zero-2w", "simulated")
DEFAULT_HARDWARE = "pi4"

CONFIG_NAME = "device.toml"
CA, CERT, KEY = "certs/ca.pem", "certs/device.pem", "certs/device.key"
SIGNING_KEY, HUB_PUBLIC = "keys/device-signing.key", "keys/hub-signing.pub"


@dataclass(frozen=True, slots=True)
class BundleFiles:
    """The PEM bytes that go into a bundle."""

    ca: bytes
    cert: bytes
    key: bytes
    signing_key: bytes
    hub_public: bytes


def template_path(hardware: str) -> Path:
    """The example device file whose hardware sections a new bundle copies."""
    if hardware not in HARDWARE_TEMPLATES:
        raise ProvisioningError(
            f"unknown hardware template {hardware!r}: use one of "
            f"{', '.join(HARDWARE_TEMPLATES)}, or --template FILE for your own device.toml"
        )
    return EXAMPLES / f"{hardware}.toml"


def _hardware_sections(template: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(template.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProvisioningError(
            f"cannot read device template {template}: {exc}: check it with "
            f"'doorstep config check --no-files {template}'"
        ) from None
    # Identity, broker and keys always come from provisioning, never from a template.
    for section in ("device", "broker", "keys"):
        data.pop(section, None)
    return data


def device_config_text(
    bundle_dir: Path,
    device_id: str,
    name: str,
    broker: tuple[str, int],
    template: Path,
) -> str:
    """The bundle's device.toml, validated by ``DeviceConfig``; paths relative to the bundle."""
    data = _hardware_sections(template)
    data["device"] = {"id": device_id, "name": name}
    data["broker"] = {"host": broker[0], "port": broker[1], "ca": CA, "cert": CERT, "key": KEY}
    data["keys"] = {"signing_key": SIGNING_KEY, "hub_public_key": HUB_PUBLIC}
    try:
        cfg = DeviceConfig.model_validate(data, context={"base_dir": bundle_dir.resolve()})
    except ValidationError as exc:
        raise ProvisioningError(
            f"device template {template} does not give a valid device file "
            f"({exc.errors()[0]['msg']}): check it with 'doorstep config check --no-files "
            f"{template}'"
        ) from None
    header = (
        f"# Doorstep device {device_id}, written by 'doorstep provision add-device'.\n"
        f"# Hardware sections copied from {template.name}: edit them to match the wiring,\n"
        "# then run 'doorstep config check device.toml'.\n\n"
    )
    return header + dump_device_config(cfg, relative_to=bundle_dir)


def write_bundle(
    bundles: Path,
    device_id: str,
    name: str,
    broker: tuple[str, int],
    files: BundleFiles,
    template: Path | None = None,
) -> Path:
    """Write ``bundles/<id>/`` and ``bundles/<id>.tar.gz``; return the archive's path."""
    root = ensure_dir(bundles / device_id)
    ensure_dir(root / "certs")
    ensure_dir(root / "keys")
    write_public(root / CA, files.ca)
    write_public(root / CERT, files.cert)
    write_private(root / KEY, files.key, force=True)
    write_private(root / SIGNING_KEY, files.signing_key, force=True)
    write_public(root / HUB_PUBLIC, files.hub_public)
    text = device_config_text(
        root, device_id, name, broker, template or template_path(DEFAULT_HARDWARE)
    )
    write_public(root / CONFIG_NAME, text.encode())
    archive = bundles / f"{device_id}.tar.gz"
    tmp = archive.with_name(f".{archive.name}.tmp")
    # Created 0600 before anything is written: the archive holds private keys.
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(root, arcname=device_id, filter=_owned_by_root)
    tmp.replace(archive)
    return archive


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Unpacked by root on the Pi: don't leak this machine's user names or ids.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
