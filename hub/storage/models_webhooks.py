"""Tables of webhooks to partner agencies: subscriptions, the outbox, deliveries.

The outbox holds one row per thing that happened (a ring, an alert raised...), written
in the same transaction as the event or alert row that caused it, so a crash can never
keep one without the other. Fanning out turns each outbox row into one delivery per
matching subscription; a delivery is retried until the partner answers 2xx or it
becomes a dead letter (``status`` ``dead``), which an admin can send again.

    >>> WebhookDelivery.__tablename__
    'webhook_deliveries'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, Json, UTCDateTime

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class WebhookSubscription(Base):
    """One partner endpoint: which event types, optionally of one home only."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(Json)
    # None: every home (only someone who administers every home may ask for that).
    home_id: Mapped[str | None] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), index=True
    )
    # The HMAC key: "whsec_" + base64 of 32 random bytes (Standard Webhooks' format),
    # kept sealed ("whsealed_...", hub.webhooks.secrets) when the hub has a key; plain
    # only if written before the key existed (sealed on its next use).
    secret: Mapped[str] = mapped_column(String(100))
    # The secret before the last rotation (same form), also signed with until
    # ``previous_secret_until`` so partners can switch over without missing a request.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class WebhookOutboxRow(Base):
    """A CloudEvent waiting to be fanned out: ``ce_id`` is its stable id."""

    __tablename__ = "webhook_outbox"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    ce_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(120))
    home_id: Mapped[str | None] = mapped_column(String(36))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once every matching subscription has its delivery row (None: not yet).
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class WebhookDelivery(Base):
    """One outbox row to one subscription, and how its delivery is going."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Unique("subscription_id", "outbox_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_outbox.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))  # pending / delivered / dead
    attempts: Mapped[int] = mapped_column(Integer)
    # When it may be tried next; a sender moves it ahead while it tries (its lease), so a
    # hub killed mid-request leaves it to be tried again once the lease runs out.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
