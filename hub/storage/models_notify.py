"""Tables of the notification layer: Web Push subscriptions and delivery records.

A subscription is one browser's push endpoint for one person (erasing the person
removes it). A delivery is one message for one person on one channel target; its
``dedup_key`` (e.g. ``ring:<event id>``) is unique per person and target, so a ring
seen twice (redelivery, two hubs) still notifies each person once.

    >>> PushSubscriptionRow.__tablename__, DeliveryRow.__tablename__
    ('push_subscriptions', 'notification_deliveries')

Since 0006: the notification itself (``notifications``), its recipients (held back and
why, seen when) and each person's preferences.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, Json, UTCDateTime


class PushSubscriptionRow(Base):
    """A browser's PushSubscription (endpoint + its ECDH public key and auth secret)."""

    __tablename__ = "push_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryRow(Base):
    """One message to one person on one channel target, and how its delivery went."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("dedup_key", "person_id", "channel", "target"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(64))
    # pending/sent/delivered/failed/gone
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # When a pending retry is due (a restart re-queues it then); None: at once.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The channel service's id of the message (GOV.UK Notify's), to ask how delivery went.
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationRow(Base):
    """One logical notification (its ``dedup_key``), kept so a pending retry survives a
    restart and admins can see what a failed delivery was about."""

    __tablename__ = "notifications"

    dedup_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # ring, ring_unanswered, ... (MESSAGE_KINDS)
    home_id: Mapped[str | None] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(String(63))  # "" when about no door
    safety: Mapped[bool] = mapped_column(Boolean)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(1000))
    url: Mapped[str] = mapped_column(String(500))
    tag: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RecipientRow(Base):
    """A person a notification is for: whether it was held back (and why) and when they saw it."""

    __tablename__ = "notification_recipients"

    dedup_key: Mapped[str] = mapped_column(
        ForeignKey("notifications.dedup_key", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Copied from the notification: the rate limit counts by person + door + kind.
    device_id: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(40))
    skipped: Mapped[str | None] = mapped_column(String(20))  # no_target, preferences, ...
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PreferencesRow(Base):
    """A person's own choices: kinds and channels turned off, quiet hours."""

    __tablename__ = "notification_preferences"

    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    muted_kinds: Mapped[list[str]] = mapped_column(Json)
    off_channels: Mapped[list[str]] = mapped_column(Json)
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "22:00", local time
    quiet_end: Mapped[str | None] = mapped_column(String(5))  # "07:00"
    timezone: Mapped[str | None] = mapped_column(String(64))  # None: the home's
    rings_in_quiet_hours: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
