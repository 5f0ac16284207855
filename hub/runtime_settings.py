"""How the running hub reaches the broker and judges time: ``DOORSTEP_HUB_MQTT_*``.

Separate from ``HubSettings`` (storage and keys) so a tool that only reads the
database never needs broker details.

    >>> s = HubRuntimeSettings(mqtt_host="127.0.0.1", mqtt_port=8883)
    >>> s.offline_after_s
    90
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveFloat, PositiveInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubRuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOORSTEP_HUB_", extra="forbid", frozen=True)

    mqtt_host: str = Field(default="127.0.0.1", description="Broker host.")
    mqtt_port: int = Field(default=8883, ge=1, le=65535, description="Broker port.")
    mqtt_ca: Path | None = Field(default=None, description="CA of the broker (PEM); None: no TLS")
    mqtt_cert: Path | None = Field(default=None, description="The hub's client certificate.")
    mqtt_key: Path | None = Field(default=None, description="Its private key.")
    mqtt_client_id: str = Field(default="doorstep-hub", description="Unique per hub process.")
    shared_group: str | None = Field(
        default=None,
        description="Share ingest with other hub processes through $share/<group>/... (MQTT v5).",
    )
    notice_relay: bool | None = Field(
        default=None,
        description="Share live notices with the other hub processes over the broker "
        "(hub/notice_relay.py); unset: on exactly when shared_group is set.",
    )
    degraded_after_s: PositiveInt = Field(
        default=45, description="No heartbeat for this long: the device is degraded."
    )
    offline_after_s: PositiveInt = Field(
        default=90, le=3600, description="No heartbeat for this long: the device is offline."
    )
    command_timeout_s: PositiveFloat = Field(
        default=10.0, le=30, description="No acknowledgement by then: the outcome is unknown."
    )
    command_lifetime_s: PositiveInt = Field(
        default=20, le=30, description="How long a signed command stays valid."
    )
    unlocks_per_minute: PositiveInt = Field(default=6, description="Rate limit per door.")
    unanswered_ring_s: PositiveInt = Field(
        default=60, description="A ring nobody answered within this is an alert."
    )
    door_open_alert_s: PositiveInt = Field(
        default=300, description="A door left open this long is an alert."
    )
    unlocked_alert_s: PositiveInt = Field(
        default=60, description="A lock reported released this long is an alert."
    )
    low_disk_bytes: PositiveInt = Field(default=200_000_000, description="Low-disk alert below.")
    rejected_commands_alert: PositiveInt = Field(
        default=5, description="This many rejected commands in 10 minutes is an alert."
    )
    health_interval_s: PositiveFloat = Field(default=1.0, description="How often to check.")
    ingest_batch: PositiveInt = Field(default=500, description="Messages per transaction.")
    retention_interval_s: PositiveFloat = Field(
        default=3600.0,
        description="How often the snapshot retention job deletes expired snapshots.",
    )

    @model_validator(mode="after")
    def _tls_complete(self) -> HubRuntimeSettings:
        given = [self.mqtt_ca, self.mqtt_cert, self.mqtt_key]
        if any(given) and not all(given):
            raise ValueError("set all of mqtt_ca, mqtt_cert and mqtt_key for TLS, or none")
        if self.degraded_after_s >= self.offline_after_s:
            raise ValueError("degraded_after_s must be smaller than offline_after_s")
        return self
