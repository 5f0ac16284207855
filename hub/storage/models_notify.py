"""Tables of the notification layer: Web Push subscriptions and delivery records.

A subscription is one browser's push endpoint for one person (erasing the person
removes it). A delivery is one message for one person on one channel target; its
``dedup_key`` (e.g. ``ring:<event id>``) is unique per person and target, so a ring
seen twice (redelivery, two hubs) still notifies each person once.

    >>> PushSubscriptionRow.__tablename__, DeliveryRow.__tablename__
    ('push_subscriptions', 'notification_deliveries')
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, UTCDateTime


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
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending/sent/failed/gone
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
