"""Settings of the Home Assistant bridge: ``DOORSTEP_HA_*``.

>>> HomeAssistantSettings().discovery_prefix
'homeassistant'
"""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

from protocol.topics import HA_DISCOVERY_PREFIX


class HomeAssistantSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOORSTEP_HA_", extra="forbid", frozen=True)

    always_on: bool = Field(
        default=False,
        description="Run the bridge even while no door is opted in (it starts by itself "
        "as soon as one is).",
    )
    discovery_prefix: str = Field(
        default=HA_DISCOVERY_PREFIX,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Home Assistant's discovery prefix. The generated broker ACL grants "
        "only the default one: change both or neither.",
    )
    refresh_interval_s: PositiveFloat = Field(
        default=60.0, description="How often diagnostics (last heartbeat, ...) are republished."
    )
    max_refusals: PositiveInt = Field(
        default=5,
        description="Refused lock requests per door in refusal_window_s before every "
        "further request is refused unread (slows guessing of codes).",
    )
    refusal_window_s: PositiveInt = Field(default=600, description="See max_refusals.")
    configuration_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="The web app's address, shown as the device's configuration link.",
    )
