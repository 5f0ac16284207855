"""How far each notification got, per person: what the escalation flow reads.

One state per recipient, the best so far: seen > delivered > sent > pending > failed.
"delivered" comes from the channel's service (GOV.UK Notify's status); Web Push has no
delivery report, so a push stays "sent" until the person opens it ("seen", from the
notification's click or the ring screen). A person the message was held back from (quiet
hours, preferences, rate limit) or who has no way to be reached is "failed": nobody got it.

    states(s, "escalation:ev1:1")       # {"<person id>": "sent", ...}
    mark_seen(s, key, person_id, at)   # False: not one of this person's notifications
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..storage.models_notify import DeliveryRow, RecipientRow
from .store import DELIVERED, FAILED, GONE, PENDING, SENDING, SENT

SEEN = "seen"
_RANK = {FAILED: 0, GONE: 0, PENDING: 1, SENDING: 1, SENT: 2, DELIVERED: 3}
_STATE = {
    FAILED: FAILED,
    GONE: FAILED,
    PENDING: PENDING,
    SENDING: PENDING,
    SENT: SENT,
    DELIVERED: DELIVERED,
}


def states(session: Session, key: str) -> dict[str, str]:
    """person id -> "pending" | "sent" | "delivered" | "failed" | "seen" for one key."""
    people = session.execute(
        select(RecipientRow.person_id, RecipientRow.seen_at).where(RecipientRow.dedup_key == key)
    ).all()
    best: dict[str, str] = {}
    for person, status in session.execute(
        select(DeliveryRow.person_id, DeliveryRow.status).where(DeliveryRow.dedup_key == key)
    ):
        if person not in best or _RANK[status] > _RANK[best[person]]:
            best[person] = status
    return {
        person: SEEN if seen_at is not None else _STATE[best.get(person, FAILED)]
        for person, seen_at in people
    }


def mark_seen(session: Session, key: str, person_id: str, at: datetime) -> bool | None:
    """Record that the person saw the notification: True the first time, False if already
    seen, None if it is not theirs (or unknown)."""
    row = session.get(RecipientRow, (key, person_id))
    if row is None:
        return None
    if row.seen_at is not None:
        return False
    row.seen_at = at
    return True
