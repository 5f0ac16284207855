"""The deployment's registry: which devices and services hold certificates, and which
certificates were revoked. One JSON file, written atomically, sorted for stable diffs.

    >>> reg = Registry(broker_hosts=["hub.local", "localhost", "127.0.0.1"])
    >>> reg.model_dump_json()[:12]
    '{"format":1,'
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.ids import DEVICE_ID_PATTERN

from .errors import ProvisioningError
from .pki import write_file

SERVICE_PREFIX = "svc."
# A service name never matches DEVICE_ID_PATTERN once prefixed: the '.' is not a
# device-id character, so a service can never be mistaken for (or ACL-match as) a door.
SERVICE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,30}$"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceRecord(_Record):
    id: str = Field(pattern=DEVICE_ID_PATTERN, description="Device id = certificate CN.")
    name: str = Field(min_length=1, max_length=80, description="Human name, e.g. 'Front door'.")
    serial: str = Field(pattern=r"^[0-9a-f]+$", description="Client certificate serial (hex).")
    not_after: datetime = Field(description="When the client certificate expires.")
    signing_key_id: str = Field(
        pattern=r"^[0-9a-f]{16}$", description="Key id of the device's Ed25519 ack-signing key."
    )
    added: datetime = Field(description="When the device was provisioned.")


class ServiceRole(StrEnum):
    """What a service may do on the broker (broker_config.acl_text)."""

    HUB = "hub"  # a hub process: reads every door, commands them
    # Home Assistant's MQTT integration: reads the hub's doorstep/ha/ tree and discovery
    # configs, writes only lock requests (which the hub authorises) and its birth message.
    HOME_ASSISTANT = "home_assistant"


class ServiceRecord(_Record):
    name: str = Field(pattern=SERVICE_NAME_PATTERN, description="Service name, e.g. 'hub'.")
    role: ServiceRole = Field(default=ServiceRole.HUB, description="What it may do on the broker.")
    serial: str = Field(pattern=r"^[0-9a-f]+$", description="Client certificate serial (hex).")
    not_after: datetime = Field(description="When the client certificate expires.")
    added: datetime = Field(description="When the service was provisioned.")

    @property
    def identity(self) -> str:
        """The certificate CN, which the broker uses as the MQTT username."""
        return SERVICE_PREFIX + self.name


class RevokedCert(_Record):
    identity: str = Field(min_length=1, description="CN of the revoked certificate.")
    serial: str = Field(pattern=r"^[0-9a-f]+$", description="Serial of the revoked certificate.")
    revoked_at: datetime = Field(description="When it was revoked.")


class Registry(_Record):
    format: Literal[1] = 1
    broker_hosts: list[str] = Field(
        min_length=1, description="Names/addresses in the broker certificate; first is dialled."
    )
    broker_port: int = Field(default=8883, ge=1, le=65535, description="Broker TLS port.")
    devices: dict[str, DeviceRecord] = Field(default_factory=dict)
    services: dict[str, ServiceRecord] = Field(default_factory=dict)
    revoked: list[RevokedCert] = Field(default_factory=list)

    def identities(self) -> set[str]:
        return set(self.devices) | {s.identity for s in self.services.values()}


def load_registry(path: Path) -> Registry:
    try:
        return Registry.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise ProvisioningError(f"cannot read registry {path}: {exc.strerror}") from None
    except ValidationError as exc:
        raise ProvisioningError(
            f"registry {path} is damaged ({exc.error_count()} problem(s), first: "
            f"{exc.errors()[0]['msg']}): restore it from your backup of the deployment"
        ) from None


def save_registry(path: Path, registry: Registry) -> None:
    data = json.dumps(registry.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    write_file(path, data.encode(), mode=0o600)
