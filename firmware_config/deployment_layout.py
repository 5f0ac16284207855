"""Where everything of a deployment lives inside its folder, and which broker host
names are acceptable. Paths only: nothing here reads or writes a file.

    >>> DeploymentLayout(Path("/srv/doorstep")).ca_cert
    PosixPath('/srv/doorstep/ca/ca.pem')
    >>> check_hosts(["hub.local"])
    ['hub.local', 'localhost', '127.0.0.1']
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidIdentity
from .registry import SERVICE_PREFIX

LOCAL_HOSTS = ("localhost", "127.0.0.1")
_HOST_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$")


@dataclass(frozen=True)
class DeploymentLayout:
    """The files of one deployment folder (see ``firmware_config.deployment``)."""

    root: Path

    @property
    def registry_path(self) -> Path:
        return self.root / "deployment.json"

    @property
    def ca_cert(self) -> Path:
        """The CA certificate: every client pins it."""
        return self.root / "ca" / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """The CA's private key: never leaves this folder."""
        return self.root / "ca" / "ca.key"

    @property
    def crl(self) -> Path:
        """The revocation list the broker checks client certificates against."""
        return self.root / "ca" / "crl.pem"

    @property
    def server_cert(self) -> Path:
        return self.root / "server" / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "server" / "server.key"

    @property
    def hub_signing_key(self) -> Path:
        """The hub's Ed25519 command-signing key."""
        return self.root / "keys" / "hub-signing.key"

    @property
    def hub_signing_public(self) -> Path:
        """Its public half, pinned by every door."""
        return self.root / "keys" / "hub-signing.pub"

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    @property
    def default_broker_dir(self) -> Path:
        """Where ``broker-config`` writes the broker folder by default."""
        return self.root / "mosquitto"

    def device_dir(self, device_id: str) -> Path:
        return self.root / "devices" / device_id

    def device_signing_public(self, device_id: str) -> Path:
        """The device's ack-signing public key: the hub verifies acknowledgements with it."""
        return self.device_dir(device_id) / "device-signing.pub"

    def service_dir(self, name: str) -> Path:
        return self.root / "services" / (SERVICE_PREFIX + name)


def check_hosts(hosts: Sequence[str]) -> list[str]:
    """The broker certificate's names: the given ones first, then localhost and 127.0.0.1."""
    out: list[str] = []
    for host in [*hosts, *LOCAL_HOSTS]:
        if host in out:
            continue
        if not _HOST_RE.fullmatch(host) and not _is_ip(host):
            raise InvalidIdentity(
                f"host {host!r} is neither a DNS name nor an IP address: pass e.g. "
                "--host hub.local or --host 192.168.1.10"
            )
        out.append(host)
    return out


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
