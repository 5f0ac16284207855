"""A flapping door must not flood anyone: per person + door + message kind, at most
``limit`` notifications go out in any ``window``; more are held back ("rate_limited").

The limit counts what was sent (recipients not held back), in the database, so it holds
across restarts and across hub processes. Safety alerts are limited too - a door going
offline and online every minute is still one problem - but the first ones always go,
and on the phone a later one with the same tag replaces the earlier one anyway.

    if over_limit(s, person_id=p, device_id=d, kind="device_offline", at=now, limit=RateLimit()):
        ...
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage.models_notify import RecipientRow


@dataclass(frozen=True, slots=True)
class RateLimit:
    count: int = 3
    window_s: float = 600.0


def over_limit(
    session: Session, *, person_id: str, device_id: str, kind: str, at: datetime, limit: RateLimit
) -> bool:
    """True when ``limit.count`` messages of this kind about this door already went out
    to this person within the window before ``at``."""
    since = at - timedelta(seconds=limit.window_s)
    sent = session.scalar(
        select(func.count())
        .select_from(RecipientRow)
        .where(
            RecipientRow.person_id == person_id,
            RecipientRow.device_id == device_id,
            RecipientRow.kind == kind,
            RecipientRow.skipped.is_(None),
            RecipientRow.created_at > since,
            RecipientRow.created_at <= at,
        )
    )
    return int(sent or 0) >= limit.count
