"""What may be notified: the message kinds, which of them are safety alerts, and the
``notify`` notice other hub parts post to tell explicit people (see contract).

    bus.post(Notice("notify", device_id, NotifyRequest(to=[p], message_kind="break_glass",
             key="break_glass:42", title=..., body=..., url=..., tag=..., safety=True)
             .model_dump(), home_id))
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MESSAGE_KINDS = (
    "ring",
    "ring_unanswered",
    "ring_escalated",
    "carer_non_arrival",
    "device_offline",
    "door_left_unlocked",
    "break_glass",
    "checkin",
    "checkin_approval_request",
)
# Safety alerts: quiet hours and a person's "kinds" switches never hold them back, and
# when a person's channel switches leave no way to reach them, every channel is used.
# A plain ring is not one (see preferences.py for how quiet hours treat rings).
SAFETY_KINDS = frozenset(
    {
        "ring_unanswered",
        "ring_escalated",
        "carer_non_arrival",
        "device_offline",
        "door_left_unlocked",
        "break_glass",
    }
)
# GOV.UK Notify templates exist for these (SMS and email); the rest go by Web Push only.
GOVUK_KINDS = (
    "ring_unanswered",
    "carer_non_arrival",
    "device_offline",
    "door_left_unlocked",
    "break_glass",
)

Extra = dict[str, str | int | float | bool | None]


class NotifyRequest(BaseModel):
    """The ``data`` of a ``Notice(kind="notify", ...)``."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    to: list[str] = Field(min_length=1, max_length=200)
    message_kind: str
    key: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=1000)
    url: str = Field(max_length=500)
    tag: str = Field(min_length=1, max_length=100)
    safety: bool = False
    extra: Extra = Field(default_factory=dict)

    def is_safety(self) -> bool:
        # A safety kind is a safety alert even if the poster forgot to say so.
        return self.safety or self.message_kind in SAFETY_KINDS
