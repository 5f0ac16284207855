"""Webhook delivery settings, from ``DOORSTEP_WEBHOOK_*`` environment variables.

>>> WebhookSettings(max_attempts=3).max_attempts
3
"""

from __future__ import annotations

from pydantic import Field, PositiveFloat, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    """How the hub delivers webhooks (see docs/webhooks.md for the retry schedule)."""

    model_config = SettingsConfigDict(env_prefix="DOORSTEP_WEBHOOK_", extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run the delivery worker in this process.")
    source: str = Field(
        default="urn:doorstep:hub",
        min_length=1,
        max_length=200,
        description="The CloudEvents 'source' of every event (name your hub, e.g. a URL).",
    )
    timeout_s: PositiveFloat = Field(default=10.0, le=120, description="One request's timeout.")
    max_attempts: PositiveInt = Field(
        default=12, le=100, description="Attempts before a delivery becomes a dead letter."
    )
    backoff_base_s: PositiveFloat = Field(
        default=10.0, description="Delay after the first failure; doubled after each next one."
    )
    backoff_max_s: PositiveFloat = Field(default=3600.0, description="Longest delay between tries.")
    retry_after_max_s: PositiveFloat = Field(
        default=21600.0, description="A receiver's Retry-After is honoured up to this long."
    )
    poll_s: PositiveFloat = Field(default=1.0, le=60, description="How often to look for work.")
    keep_delivered_days: PositiveInt = Field(
        default=7, description="Delivered rows are forgotten after this many days."
    )
    senders: PositiveInt = Field(default=4, le=64, description="Requests in flight at once.")
    allow_private_targets: bool = Field(
        default=False,
        description=(
            "Let webhooks go to loopback, link-local, private and other non-public "
            "addresses, and plain http:// to them (a relay on the hub's own network). "
            "Off: such subscriptions are refused, and checked again at every delivery."
        ),
    )
    rotation_grace_h: float = Field(
        default=24.0,
        ge=0,
        le=24 * 30,
        description="After a secret rotation, hours the old secret also signs (0: none).",
    )
