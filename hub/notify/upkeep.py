"""What the delivery worker does besides sending: delivery receipts from services that
can report them (GOV.UK Notify; sent messages are asked about for up to three days), and
on start, the deliveries a stopped worker left pending.

    changed = poll_reports(db, channels, utcnow)
    for channel, message, attempts, delay_s in left_pending(db, {"webpush"}, now, max_age): ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from ..storage.database import Database
from .channel import Channel, Message
from .route import message_of
from .store import (
    FAILED,
    SENDING,
    SENDING_LEASE,
    awaiting_report,
    pending_deliveries,
    record_attempt,
    set_reported,
)

log = logging.getLogger(__name__)

REPORT_WINDOW = timedelta(days=3)  # Notify keeps statuses for 7 days; ask for 3


def poll_reports(db: Database, channels: Iterable[Channel], clock: Callable[[], datetime]) -> int:
    """Ask each reporting channel about its sent messages; returns how many changed."""
    reporting = {c.name: c for c in channels if hasattr(c, "report")}
    if not reporting:
        return 0
    now = clock()
    with db.read_session() as s:
        rows = [
            (r.id, r.channel, r.provider_ref)
            for r in awaiting_report(s, list(reporting), now - REPORT_WINDOW)
        ]
    changed = 0
    for row_id, channel, ref in rows:
        try:
            answer = reporting[channel].report(ref)  # type: ignore[attr-defined]
        except Exception:  # one bad answer must not stop the others
            log.exception("asking %s about %s failed", channel, ref)
            continue
        if answer is None:
            continue
        state, detail = answer
        with db.session() as s:
            set_reported(s, row_id, state, detail if state == FAILED else None, clock())
        changed += 1
    return changed


def left_pending(
    db: Database, channels: set[str], now: datetime, max_age: timedelta
) -> list[tuple[str, Message, int, float]]:
    """(channel, message, attempts so far, seconds until due) of each pending delivery;
    those too old to matter any more, or for a channel now off, are marked failed."""
    out: list[tuple[str, Message, int, float]] = []
    with db.session() as s:
        for row, note in pending_deliveries(s):
            too_old = note.created_at < now - max_age
            if too_old or row.channel not in channels:
                record_attempt(
                    s,
                    key=row.dedup_key,
                    person_id=row.person_id,
                    channel=row.channel,
                    target=row.target,
                    status=FAILED,
                    attempts=row.attempts,
                    error="too old to send after a restart" if too_old else "channel is off now",
                    at=now,
                )
                continue
            delay = ((row.next_attempt_at or now) - now).total_seconds()
            if row.status == SENDING:
                # In flight, maybe at a hub that is running now: its lease must run out
                # first (take_attempt keeps the two from both sending).
                delay = max(delay, (row.updated_at + SENDING_LEASE - now).total_seconds())
            message = message_of(note, row.person_id, row.target)
            out.append((row.channel, message, row.attempts, delay))
    return out
