"""The delivery rows' life: claimed for an attempt, delivered, retried, dead, revived.

A claim moves ``next_attempt_at`` ahead by a lease, with a guard on its old value, so
two hub processes never send the same delivery at once, and one killed mid-request
leaves it to be tried again when the lease runs out (at-least-once).

    with db.session() as s:
        claimed = claim_due(s, now=now, lease_s=15, limit=4)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..errors import InvalidTransition, NotFound
from ..storage.models_webhooks import (
    DEAD,
    DELIVERED,
    PENDING,
    WebhookDelivery,
    WebhookOutboxRow,
    WebhookSubscription,
)
from .secrets import WebhookSecretError, signing_secrets


@dataclass(frozen=True, slots=True)
class Claimed:
    """Everything one attempt needs, read while claiming (no session during the request)."""

    delivery_id: int
    attempts: int  # made before this one
    url: str
    secrets: tuple[str, ...]  # to sign with: the current one (and the old one in a rotation)
    outbox: Any  # a detached WebhookOutboxRow (ce_id, type, subject, time, data)
    # Why it cannot be signed (a sealed secret this hub cannot open): the attempt fails
    # with this, retried like any failure, so one broken subscription blocks no other.
    error: str | None = None


def claim_due(session: Session, *, now: datetime, lease_s: float, limit: int) -> list[Claimed]:
    if limit <= 0:
        return []
    due = session.execute(
        select(WebhookDelivery, WebhookSubscription, WebhookOutboxRow)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(WebhookOutboxRow, WebhookOutboxRow.id == WebhookDelivery.outbox_id)
        .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    ).all()
    lease_end = now + timedelta(seconds=lease_s)
    claimed: list[Claimed] = []
    for delivery, sub, row in due:
        won = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery.id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at == delivery.next_attempt_at,
            )
            .values(next_attempt_at=lease_end, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            continue
        try:
            keys, error = tuple(signing_secrets(session, sub, now=now)), None
        except WebhookSecretError as exc:
            keys, error = (), str(exc)
        claimed.append(Claimed(delivery.id, delivery.attempts, sub.url, keys, row, error))
    return claimed


def record_delivered(session: Session, delivery_id: int, *, status: int, now: datetime) -> None:
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(
            status=DELIVERED,
            attempts=WebhookDelivery.attempts + 1,
            last_status=status,
            last_error=None,
            delivered_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def record_failed(
    session: Session,
    delivery_id: int,
    *,
    status: int | None,
    error: str | None,
    now: datetime,
    retry_at: datetime | None,
) -> None:
    """A failed attempt: try again at ``retry_at``, or (None) make it a dead letter."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING)
        .values(
            status=PENDING if retry_at is not None else DEAD,
            attempts=WebhookDelivery.attempts + 1,
            last_status=status,
            last_error=(error or "")[:500] or None,
            next_attempt_at=retry_at or now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def dead_counts(session: Session) -> dict[str, tuple[int, datetime]]:
    """Per subscription with dead deliveries: (how many, when the latest gave up)."""
    d = WebhookDelivery
    stmt = (
        select(d.subscription_id, func.count(d.id), func.max(d.updated_at))
        .where(d.status == DEAD)
        .group_by(d.subscription_id)
    )
    return {sub: (n, latest) for sub, n, latest in session.execute(stmt).all()}


def dead_letters(
    session: Session, *, homes: set[str] | None, limit: int = 200
) -> list[dict[str, Any]]:
    """Dead deliveries, newest first; ``homes``: only subscriptions of these (None: all)."""
    stmt = (
        select(WebhookDelivery, WebhookSubscription, WebhookOutboxRow)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .join(WebhookOutboxRow, WebhookOutboxRow.id == WebhookDelivery.outbox_id)
        .where(WebhookDelivery.status == DEAD)
        .order_by(WebhookDelivery.updated_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    if homes is not None:
        stmt = stmt.where(WebhookSubscription.home_id.in_(sorted(homes)))
    return [
        {
            "delivery": d.id,
            "subscription": sub.id,
            "partner": sub.partner,
            "home": sub.home_id,
            "event_id": row.ce_id,
            "type": row.type,
            "attempts": d.attempts,
            "last_status": d.last_status,
            "last_error": d.last_error,
            "failed_at": d.updated_at.isoformat(),
        }
        for d, sub, row in session.execute(stmt).all()
    ]


def delivery_home(session: Session, delivery_id: int) -> tuple[str, str | None]:
    """(subscription id, its home) of a delivery, for authorising a retry."""
    row = session.execute(
        select(WebhookSubscription.id, WebhookSubscription.home_id)
        .join(WebhookDelivery, WebhookDelivery.subscription_id == WebhookSubscription.id)
        .where(WebhookDelivery.id == delivery_id)
    ).first()
    if row is None:
        raise NotFound(f"webhook delivery {delivery_id} does not exist")
    return row[0], row[1]


def retry_dead(session: Session, delivery_id: int, *, now: datetime) -> None:
    """Send a dead letter again: a fresh set of attempts, starting now."""
    changed = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        delivery_home(session, delivery_id)  # NotFound if it does not exist at all
        raise InvalidTransition(f"webhook delivery {delivery_id} is not a dead letter")


def counts(session: Session) -> dict[str, int]:
    """Deliveries by status (for tests, metrics and the CLI)."""
    from sqlalchemy import func

    rows = session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
    )
    return {status: n for status, n in rows}


def prune(session: Session, *, before: datetime) -> int:
    """Forget deliveries delivered before ``before``, then outbox rows nobody waits for.

    Dead letters and pending deliveries stay, and so do their outbox rows.
    """
    from sqlalchemy import delete, exists

    gone = session.execute(
        delete(WebhookDelivery)
        .where(WebhookDelivery.status == DELIVERED, WebhookDelivery.delivered_at < before)
        .execution_options(synchronize_session=False)
    ).rowcount
    waiting = exists().where(WebhookDelivery.outbox_id == WebhookOutboxRow.id)
    session.execute(
        delete(WebhookOutboxRow)
        .where(WebhookOutboxRow.fanned_out_at < before, ~waiting)
        .execution_options(synchronize_session=False)
    )
    return int(gone or 0)


def work_waiting(session: Session, *, now: datetime) -> bool:
    """Anything to fan out or send? (Read-only: an idle hub never takes the write lock.)"""
    unfanned = select(WebhookOutboxRow.id).where(WebhookOutboxRow.fanned_out_at.is_(None))
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now
    )
    return any(session.execute(q.limit(1)).first() is not None for q in (unfanned, due))
