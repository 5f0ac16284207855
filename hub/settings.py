"""The hub's settings, read from ``DOORSTEP_HUB_*`` environment variables (or given).

Loaded once by whoever starts the hub (the CLI) and passed down; nothing reads
them at import time.

    >>> s = HubSettings(data_dir="/tmp/hub")
    >>> s.database_url
    'sqlite:////tmp/hub/hub.sqlite3'
    >>> str(s.snapshot_dir)
    '/tmp/hub/snapshots'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError

DEFAULT_DATA_DIR = Path("/var/lib/doorstep/hub")


class HubSettings(BaseSettings):
    """Everything the hub's storage and audit log need to know about this machine."""

    model_config = SettingsConfigDict(env_prefix="DOORSTEP_HUB_", extra="forbid", frozen=True)

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Folder for the SQLite database, snapshots and keys (unless set apart).",
    )
    database_url: str = Field(
        default="",
        description=(
            "SQLAlchemy URL. Empty means sqlite:///<data_dir>/hub.sqlite3; "
            "PostgreSQL: postgresql+psycopg://user:password@host/dbname."
        ),
    )
    snapshot_dir: Path | None = Field(
        default=None, description="Where snapshot JPEGs live (default <data_dir>/snapshots)."
    )
    retention_days: PositiveInt = Field(
        default=30, le=3650, description="Snapshot retention for homes that set none of their own."
    )
    live_view_retention_s: PositiveInt = Field(
        default=3600,
        le=30 * 86400,
        description="Live-view frames are deleted after this long (checked every "
        "retention_interval_s), whatever the home's retention: they were for watching.",
    )
    audit_checkpoint_interval_s: PositiveInt = Field(
        default=300, description="Sign a checkpoint of the audit head at least this often."
    )
    audit_checkpoint_overdue_s: PositiveInt = Field(
        default=900,
        description="Raise audit_checkpoint_overdue when the newest checkpoint is older than this.",
    )
    signing_key: Path | None = Field(
        default=None,
        description="The hub's Ed25519 signing key, PEM (default <data_dir>/keys/hub-signing.key).",
    )
    signing_public_key: Path | None = Field(
        default=None,
        description="Its public key, PEM (default <data_dir>/keys/hub-signing.pub).",
    )
    audit_key: Path | None = Field(
        default=None,
        description="A dedicated key for audit checkpoints; default: the hub signing key.",
    )
    totp_key: Path | None = Field(
        default=None,
        description=(
            "Key file sealing TOTP secrets at rest (AES-GCM; made by 'doorstep hub "
            "seal-totp' or create-admin; default <data_dir>/keys/totp.key). Back it up."
        ),
    )
    sqlite_busy_timeout_ms: PositiveInt = Field(
        default=15_000, description="How long a SQLite writer waits for the write lock."
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> HubSettings:
        # Derived paths follow data_dir unless set explicitly; frozen, so set via __dict__.
        data = self.data_dir
        defaults = {
            "database_url": self.database_url or f"sqlite:///{data / 'hub.sqlite3'}",
            "snapshot_dir": self.snapshot_dir or data / "snapshots",
            "signing_key": self.signing_key or data / "keys" / "hub-signing.key",
            "signing_public_key": self.signing_public_key or data / "keys" / "hub-signing.pub",
            "totp_key": self.totp_key or data / "keys" / "totp.key",
        }
        for name, value in defaults.items():
            self.__dict__[name] = value
        return self

    @property
    def snapshots(self) -> Path:
        """``snapshot_dir`` with its default applied."""
        return _filled(self.snapshot_dir, "snapshot_dir")

    @property
    def audit_signing_key(self) -> Path:
        """The key that signs audit checkpoints: ``audit_key`` or the hub signing key."""
        return _filled(self.audit_key or self.signing_key, "signing_key")


def _filled(value: Path | None, name: str) -> Path:
    if value is None:  # only if someone bypassed validation (model_construct)
        raise SettingsError(f"setting {name} is unset: build HubSettings normally, not unvalidated")
    return value
