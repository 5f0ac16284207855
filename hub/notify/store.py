"""Push subscriptions and delivery records in the hub's database.

sub = save_subscription(s, person_id=p, endpoint=url, p256dh=key, auth=secret, at=now)
claimed = claim_delivery(s, key="ring:e1", person_id=p, channel="webpush", target=sub.id,
                         at=now)          # False when that ring already went to that target
failed_deliveries(s)                      # what admins should see
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..storage._dialect import upsert_insert
from ..storage.models_notify import DeliveryRow, PushSubscriptionRow

PENDING, SENT, FAILED, GONE = "pending", "sent", "failed", "gone"


def save_subscription(
    session: Session, *, person_id: str, endpoint: str, p256dh: str, auth: str, at: datetime
) -> PushSubscriptionRow:
    """Store a browser's subscription; the same endpoint again moves it to this person."""
    row = session.scalars(
        select(PushSubscriptionRow).where(PushSubscriptionRow.endpoint == endpoint)
    ).one_or_none()
    if row is None:
        row = PushSubscriptionRow(id=str(uuid.uuid4()), endpoint=endpoint, created_at=at)
        session.add(row)
    # A browser shared by two people keeps one subscription: the last one to log in owns it.
    row.person_id, row.p256dh, row.auth = person_id, p256dh, auth
    session.flush()
    return row


def subscriptions_of(session: Session, person_id: str) -> list[PushSubscriptionRow]:
    stmt = select(PushSubscriptionRow).where(PushSubscriptionRow.person_id == person_id)
    return list(session.scalars(stmt.order_by(PushSubscriptionRow.created_at)))


def get_subscription(session: Session, subscription_id: str) -> PushSubscriptionRow | None:
    return session.get(PushSubscriptionRow, subscription_id)


def delete_subscription(
    session: Session,
    *,
    subscription_id: str | None = None,
    person_id: str | None = None,
    endpoint: str | None = None,
) -> int:
    """Delete by id, or a person's subscription by endpoint; returns how many went."""
    stmt = delete(PushSubscriptionRow)
    if subscription_id is not None:
        stmt = stmt.where(PushSubscriptionRow.id == subscription_id)
    elif person_id is not None and endpoint is not None:
        stmt = stmt.where(
            PushSubscriptionRow.person_id == person_id, PushSubscriptionRow.endpoint == endpoint
        )
    else:
        raise ValueError("give subscription_id, or person_id and endpoint")
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def claim_delivery(
    session: Session, *, key: str, person_id: str, channel: str, target: str, at: datetime
) -> bool:
    """Record a pending delivery; False when this message was already claimed (a duplicate)."""
    stmt = (
        upsert_insert(session, DeliveryRow)
        .values(
            dedup_key=key,
            person_id=person_id,
            channel=channel,
            target=target,
            status=PENDING,
            attempts=0,
            created_at=at,
            updated_at=at,
        )
        .on_conflict_do_nothing()
        # RETURNING, not rowcount: PostgreSQL's driver may report -1 for this statement.
        .returning(DeliveryRow.id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def record_attempt(
    session: Session,
    *,
    key: str,
    person_id: str,
    channel: str,
    target: str,
    status: str,
    attempts: int,
    error: str | None,
    at: datetime,
) -> None:
    session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.dedup_key == key,
            DeliveryRow.person_id == person_id,
            DeliveryRow.channel == channel,
            DeliveryRow.target == target,
        )
        .values(status=status, attempts=attempts, last_error=error and error[:500], updated_at=at)
    )


def deliveries(session: Session, key: str | None = None) -> list[DeliveryRow]:
    stmt = select(DeliveryRow).order_by(DeliveryRow.id)
    if key is not None:
        stmt = stmt.where(DeliveryRow.dedup_key == key)
    return list(session.scalars(stmt))


def failed_deliveries(session: Session, limit: int = 100) -> list[DeliveryRow]:
    """Deliveries that gave up (failed) or lost their target (gone), newest first."""
    stmt = (
        select(DeliveryRow)
        .where(DeliveryRow.status.in_((FAILED, GONE)))
        .order_by(DeliveryRow.updated_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
