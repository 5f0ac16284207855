"""Push subscriptions and delivery records in the hub's database.

sub = save_subscription(s, person_id=p, endpoint=url, p256dh=key, auth=secret, at=now)
claimed = claim_delivery(s, key="ring:e1", person_id=p, channel="webpush", target=sub.id,
                         at=now)          # False when that ring already went to that target
failed_deliveries(s)                      # what admins should see
save_notification(s, row); add_recipient(s, ...)  # the message itself and who it is for
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from ..storage._dialect import upsert_insert
from ..storage.models_notify import DeliveryRow, NotificationRow, PushSubscriptionRow, RecipientRow

PENDING, SENT, DELIVERED, FAILED, GONE = "pending", "sent", "delivered", "failed", "gone"
# An attempt in flight: taken by one worker (see take_attempt). A worker that dies mid-send
# leaves it so; after SENDING_LEASE any worker may take it again (at least once).
SENDING = "sending"
SENDING_LEASE = timedelta(seconds=30)  # longer than any channel's own timeout


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
    """Record a delivery whose first attempt is ours (SENDING, attempt 1); False when this
    message was already claimed (a duplicate)."""
    stmt = (
        upsert_insert(session, DeliveryRow)
        .values(
            dedup_key=key,
            person_id=person_id,
            channel=channel,
            target=target,
            status=SENDING,
            attempts=1,
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
    next_attempt_at: datetime | None = None,
    provider_ref: str | None = None,
) -> None:
    session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.dedup_key == key,
            DeliveryRow.person_id == person_id,
            DeliveryRow.channel == channel,
            DeliveryRow.target == target,
        )
        .values(
            status=status,
            attempts=attempts,
            last_error=error and error[:500],
            updated_at=at,
            next_attempt_at=next_attempt_at,
            provider_ref=provider_ref,
        )
    )


def take_attempt(
    session: Session,
    *,
    key: str,
    person_id: str,
    channel: str,
    target: str,
    seen: int,
    at: datetime,
) -> bool:
    """Make the next attempt of a delivery ours; False when another worker has it.

    The attempt counter is the version: several hubs that re-queued the same delivery
    after a restart race for ``seen -> seen + 1``, and the row stays SENDING while the
    winner sends, so a retry goes out once, not once per hub.
    """
    done = session.execute(
        update(DeliveryRow)
        .where(
            DeliveryRow.dedup_key == key,
            DeliveryRow.person_id == person_id,
            DeliveryRow.channel == channel,
            DeliveryRow.target == target,
            DeliveryRow.attempts == seen,
            or_(
                DeliveryRow.status == PENDING,
                and_(DeliveryRow.status == SENDING, DeliveryRow.updated_at < at - SENDING_LEASE),
            ),
        )
        .values(status=SENDING, attempts=seen + 1, updated_at=at)
    )
    return bool(done.rowcount == 1)


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


def save_notification(session: Session, row: NotificationRow) -> None:
    """Keep the message (once per key: a repeated notice keeps the first)."""
    values = {c.key: getattr(row, c.key) for c in NotificationRow.__table__.columns}
    session.execute(
        upsert_insert(session, NotificationRow).values(**values).on_conflict_do_nothing()
    )


def add_recipient(
    session: Session,
    *,
    key: str,
    person_id: str,
    device_id: str,
    kind: str,
    skipped: str | None,
    at: datetime,
) -> bool:
    """Record that ``key`` is for this person; False when it already was (a duplicate)."""
    stmt = (
        upsert_insert(session, RecipientRow)
        .values(
            dedup_key=key,
            person_id=person_id,
            device_id=device_id,
            kind=kind,
            skipped=skipped,
            seen_at=None,
            created_at=at,
        )
        .on_conflict_do_nothing()
        .returning(RecipientRow.person_id)
    )
    return session.execute(stmt).scalar_one_or_none() is not None


def hold_recipient(session: Session, key: str, person_id: str, reason: str) -> None:
    session.execute(
        update(RecipientRow)
        .where(RecipientRow.dedup_key == key, RecipientRow.person_id == person_id)
        .values(skipped=reason)
    )


def pending_deliveries(session: Session) -> list[tuple[DeliveryRow, NotificationRow]]:
    """Deliveries a stopped worker left pending, with their message, oldest first."""
    stmt = (
        select(DeliveryRow, NotificationRow)
        .join(NotificationRow, NotificationRow.dedup_key == DeliveryRow.dedup_key)
        .where(DeliveryRow.status.in_((PENDING, SENDING)))
        .order_by(DeliveryRow.id)
    )
    return [(d, n) for d, n in session.execute(stmt)]


def awaiting_report(
    session: Session, channels: list[str], since: datetime, limit: int = 200
) -> list[DeliveryRow]:
    """Sent deliveries whose service can still report delivered / failed."""
    stmt = (
        select(DeliveryRow)
        .where(
            DeliveryRow.status == SENT,
            DeliveryRow.channel.in_(channels),
            DeliveryRow.provider_ref.is_not(None),
            DeliveryRow.updated_at >= since,
        )
        .order_by(DeliveryRow.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def set_reported(
    session: Session, delivery_id: int, status: str, error: str | None, at: datetime
) -> None:
    session.execute(
        update(DeliveryRow)
        .where(DeliveryRow.id == delivery_id, DeliveryRow.status == SENT)
        .values(status=status, last_error=error and error[:500], updated_at=at)
    )


def failures_in(
    session: Session,
    homes: set[str],
    limit: int = 100,
    before: tuple[datetime, int] | None = None,
) -> list[tuple[DeliveryRow, NotificationRow]]:
    """Failed / gone deliveries of notifications about these homes, newest first;
    ``before``: only those after (older than) this (updated_at, id) of a previous page."""
    stmt = (
        select(DeliveryRow, NotificationRow)
        .join(NotificationRow, NotificationRow.dedup_key == DeliveryRow.dedup_key)
        .where(DeliveryRow.status.in_((FAILED, GONE)), NotificationRow.home_id.in_(homes))
    )
    if before is not None:
        at, last_id = before
        stmt = stmt.where(
            or_(
                DeliveryRow.updated_at < at,
                and_(DeliveryRow.updated_at == at, DeliveryRow.id < last_id),
            )
        )
    stmt = stmt.order_by(DeliveryRow.updated_at.desc(), DeliveryRow.id.desc()).limit(limit)
    return [(d, n) for d, n in session.execute(stmt)]


def prune(session: Session, before: datetime, batch: int = 1000) -> int:
    """Forget notifications made before ``before`` (their text may name people, e.g. the
    carers expected at a ring), with their recipients and deliveries; a notification with
    a delivery still pending is kept. Returns how many went."""
    pending = select(DeliveryRow.dedup_key).where(DeliveryRow.status.in_((PENDING, SENDING)))
    keys = list(
        session.scalars(
            select(NotificationRow.dedup_key)
            .where(NotificationRow.created_at < before, NotificationRow.dedup_key.not_in(pending))
            .limit(batch)
        )
    )
    if keys:
        session.execute(delete(DeliveryRow).where(DeliveryRow.dedup_key.in_(keys)))
        session.execute(delete(RecipientRow).where(RecipientRow.dedup_key.in_(keys)))
        session.execute(delete(NotificationRow).where(NotificationRow.dedup_key.in_(keys)))
    return len(keys)
