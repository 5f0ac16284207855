"""Errors of the configuration and provisioning package."""

from __future__ import annotations

from dataclasses import dataclass


class ConfigError(Exception):
    """Root of every error firmware_config raises."""


class BrokerError(ConfigError, RuntimeError):
    """A private Mosquitto could not be configured or started."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration file: where it is, what is wrong, how to fix it.

    >>> str(ConfigProblem("lock.hold_s", "hold_s = 0 never releases the door: set 1-30 s"))
    'lock.hold_s: hold_s = 0 never releases the door: set 1-30 s'
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class DeviceConfigError(ConfigError, ValueError):
    """A device configuration file is unreadable or invalid; ``problems`` lists every issue."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"{source} has {len(self.problems)} problem(s); fix them and run "
            f"'doorstep config check {source}':\n{lines}"
        )


class ProvisioningError(ConfigError):
    """A deployment (CA, certificates, keys, device registry) could not be read or changed."""


class DeploymentMissing(ProvisioningError, FileNotFoundError):
    """The folder holds no deployment yet (no CA): run ``doorstep provision init`` first."""


class KeyExists(ProvisioningError, FileExistsError):
    """A private key or certificate is already there; overwriting needs ``--force``."""


class DeviceExists(ProvisioningError, ValueError):
    """A device (or service) with that id is already registered."""


class UnknownDevice(ProvisioningError, LookupError):
    """No device (or service) with that id is registered."""


class InvalidIdentity(ProvisioningError, ValueError):
    """A device id, service name or host name does not follow the rules."""


class FolderNotWritable(ProvisioningError, PermissionError):
    """A folder provisioning must write to cannot be created or written."""
