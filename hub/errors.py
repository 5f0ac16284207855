"""Errors raised by the hub package.

One root, ``HubError``; leaves also inherit a builtin so callers that only know
``ValueError`` / ``LookupError`` / ``OSError`` still catch them. Messages name the
bad value and what to do about it.

    >>> try:
    ...     raise UnknownDevice("device 'door-x' is not registered: register it first")
    ... except LookupError as exc:
    ...     print(exc)
    device 'door-x' is not registered: register it first
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error the hub raises."""


class SettingsError(HubError, ValueError):
    """The hub's settings are inconsistent or point at something unusable."""


class StorageError(HubError):
    """Root of the storage layer's errors."""


class DatabaseUnavailable(StorageError, ConnectionError):
    """The database could not be opened or reached."""


class MigrationError(StorageError, RuntimeError):
    """The schema could not be migrated, or is not at the revision this code expects."""


class NotFound(StorageError, LookupError):
    """A row that the caller named does not exist."""


class UnknownDevice(NotFound):
    """A device id that is not in the registry."""


class UnknownHome(NotFound):
    """A home id that does not exist."""


class UnknownPerson(NotFound):
    """A person id that does not exist (or was erased)."""


class InvalidTransition(StorageError, ValueError):
    """A lifecycle change that the current state does not allow (e.g. acking a resolved alert)."""


class InvalidValue(StorageError, ValueError):
    """A value that cannot be stored as given (bad timezone, naive datetime, ...)."""


class SnapshotFileError(StorageError, OSError):
    """A snapshot file could not be written, read or removed."""


class AuditError(HubError):
    """Root of the audit log's errors."""


class InvalidAuditEntry(AuditError, ValueError):
    """An audit entry with a bad action, actor or subject reference, or non-JSON details."""


class CheckpointError(AuditError, ValueError):
    """A checkpoint file or statement that cannot be read or used."""


class AuditKeyError(AuditError, ValueError):
    """The key needed to sign or check checkpoints is missing or of the wrong kind."""


class AlreadyExists(StorageError, ValueError):
    """A row with this id exists already (e.g. registering a device twice)."""


class UnknownCommand(NotFound):
    """A command id the hub never issued."""


class UnknownAlert(NotFound):
    """An alert id that does not exist."""
