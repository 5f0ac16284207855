"""Settings of the notification layer, from ``DOORSTEP_NOTIFY_*`` environment variables.

Web Push is on when a VAPID subject (the operator's contact, sent to push services)
is set; the key pair is made on first start in ``<hub data dir>/keys/vapid.key``.
SMS and email are on when a GOV.UK Notify API key and templates are set.

    >>> s = NotifySettings(vapid_subject="mailto:ops@council.example")
    >>> s.web_push_enabled
    True
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOORSTEP_NOTIFY_", extra="forbid", frozen=True)

    vapid_subject: str = Field(
        default="",
        description=(
            "mailto: address or https: URL of this deployment's operator, sent to push "
            "services with each push. Empty turns Web Push off."
        ),
    )
    vapid_key: Path | None = Field(
        default=None, description="VAPID private key, PEM (default <hub data dir>/keys/vapid.key)."
    )
    push_ttl_s: PositiveInt = Field(
        default=300, description="How long a push service keeps an undelivered ring notification."
    )
    send_timeout_s: PositiveFloat = Field(default=5.0, description="Per-request timeout.")
    senders: PositiveInt = Field(default=4, le=64, description="Deliveries sent at once.")
    retry_delays_s: tuple[PositiveFloat, ...] = Field(
        default=(2.0, 10.0, 60.0, 300.0),
        description="Wait before each retry of a temporary failure; its length caps the retries.",
    )

    public_url: str = Field(
        default="",
        description="This deployment's address (https://doorstep.council.example), put in "
        "front of links in SMS and email.",
    )
    rate_limit_count: PositiveInt = Field(
        default=3, description="At most this many messages per person + door + kind ..."
    )
    rate_limit_window_s: PositiveFloat = Field(default=600.0, description="... in this window.")
    keep_days: PositiveFloat = Field(
        default=30.0, description="Notifications (their text, receipts) are kept this long."
    )
    report_every_s: PositiveFloat = Field(
        default=60.0, description="How often to ask GOV.UK Notify whether messages arrived."
    )

    govuk_api_key: SecretStr = Field(
        default=SecretStr(""),
        description="GOV.UK Notify API key (name-serviceid-secret). Empty turns SMS/email off.",
    )
    govuk_base_url: str = Field(
        default="https://api.notifications.service.gov.uk", description="Notify's API address."
    )
    govuk_sms_templates: dict[str, str] = Field(
        default_factory=dict,
        description='Message kind -> SMS template id, e.g. {"ring_unanswered": "<uuid>"}; '
        "kinds: ring_unanswered, carer_non_arrival, device_offline, door_left_unlocked, "
        "break_glass.",
    )
    govuk_email_templates: dict[str, str] = Field(
        default_factory=dict, description="Message kind -> email template id."
    )

    @property
    def govuk_enabled(self) -> bool:
        return bool(self.govuk_api_key.get_secret_value())

    @property
    def web_push_enabled(self) -> bool:
        return bool(self.vapid_subject)
