"""Hub settings: defaults follow data_dir, the environment overrides, typos fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.settings import HubSettings
from hub.storage import Database


def test_paths_follow_data_dir(tmp_path: Path) -> None:
    s = HubSettings(data_dir=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert s.snapshots == tmp_path / "snapshots"
    assert s.signing_key == tmp_path / "keys" / "hub-signing.key"
    assert s.audit_signing_key == s.signing_key
    assert (s.retention_days, s.audit_checkpoint_interval_s) == (30, 300)


def test_environment_overrides_and_a_dedicated_audit_key(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DOORSTEP_HUB_RETENTION_DAYS", "7")
    monkeypatch.setenv("DOORSTEP_HUB_AUDIT_KEY", str(tmp_path / "audit.key"))
    monkeypatch.setenv("DOORSTEP_HUB_DATABASE_URL", "postgresql+psycopg://hub@db/hub")
    s = HubSettings()
    assert s.retention_days == 7
    assert s.audit_signing_key == tmp_path / "audit.key"
    assert s.database_url == "postgresql+psycopg://hub@db/hub"


def test_typos_and_bad_values_fail_loudly(tmp_path) -> None:
    with pytest.raises(ValidationError, match="retention_dayz"):
        HubSettings(data_dir=tmp_path, retention_dayz=3)
    with pytest.raises(ValidationError, match="retention_days"):
        HubSettings(data_dir=tmp_path, retention_days=0)


def test_database_opens_from_settings(tmp_path) -> None:
    db = Database.from_settings(HubSettings(data_dir=tmp_path / "new" / "folder"))
    db.upgrade()
    db.require_current_schema()
    db.dispose()
    assert (tmp_path / "new" / "folder" / "hub.sqlite3").exists()
