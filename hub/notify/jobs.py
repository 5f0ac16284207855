"""From a notice to the deliveries it calls for: one ``Job`` per channel target of each
person whose preferences (preferences.py) and rate limit (ratelimit.py) let it through,
each claimed in the database first, so a notice seen twice (or by two hubs) sends
nothing twice; a person held back or without any target is recorded as skipped.

    with db.session() as s:
        jobs = claim_jobs(s, notice, channels, rate_limit=RateLimit(), now=utcnow())
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..bus import Notice
from ..storage.models_notify import NotificationRow
from ..storage.models_registry import Home
from .channel import Channel, Message
from .preferences import Preferences, hold_back, load
from .ratelimit import RateLimit, over_limit
from .route import Draft, draft_for, message_of, row_of
from .store import add_recipient, claim_delivery, hold_recipient, save_notification

# Stored rings only, not their previews: routing writes to the database, and doing that
# while ingest stores the same ring made both slower (bench.ring_to_screen).
ROUTED_KINDS = ("ring", "alert", "notify")


@dataclass(frozen=True, slots=True)
class Job:
    channel: str
    message: Message
    attempts: int = 0  # attempts made so far
    # Re-queued from the database: another hub may hold the same delivery (see Sender).
    resumed: bool = False


def claim_jobs(
    s: Session,
    notice: Notice,
    channels: Iterable[Channel],
    *,
    rate_limit: RateLimit,
    now: datetime,
) -> list[Job]:
    """The new (not yet claimed) deliveries ``notice`` calls for, claimed in ``s``."""
    draft = draft_for(s, notice)
    if draft is None or not draft.recipients:
        return []
    channels = list(channels)
    note = row_of(draft, now)
    save_notification(s, note)
    home = s.get(Home, draft.home_id) if draft.home_id else None
    jobs: list[Job] = []
    for person in draft.recipients:
        prefs = load(s, person)
        reason = hold_back(
            prefs,
            kind=draft.kind,
            safety=draft.safety,
            at=now,
            home_tz=home.timezone if home else None,
        )
        if reason is None and over_limit(
            s,
            person_id=person,
            device_id=draft.device_id,
            kind=draft.kind,
            at=now,
            limit=rate_limit,
        ):
            reason = "rate_limited"
        if not add_recipient(
            s,
            key=draft.key,
            person_id=person,
            device_id=draft.device_id,
            kind=draft.kind,
            skipped=reason,
            at=now,
        ):
            continue  # this notification was already handled for this person
        if reason is not None:
            continue
        mine = _claim(s, channels, note, draft, person, prefs, now)
        if not mine:
            hold_recipient(s, draft.key, person, "no_target")
        jobs.extend(mine)
    return jobs


def _claim(
    s: Session,
    channels: list[Channel],
    note: NotificationRow,
    draft: Draft,
    person: str,
    prefs: Preferences,
    now: datetime,
) -> list[Job]:
    usable = [c for c in channels if draft.kind in c.kinds]
    chosen = [c for c in usable if c.name not in prefs.off_channels]
    targets = [(c, t) for c in chosen for t in c.targets(s, person)]
    if not targets and draft.safety:  # a safety alert must reach them somehow
        targets = [(c, t) for c in usable for t in c.targets(s, person)]
    jobs = []
    for channel, target in targets:
        if claim_delivery(
            s, key=draft.key, person_id=person, channel=channel.name, target=target, at=now
        ):
            jobs.append(Job(channel.name, message_of(note, person, target)))
    return jobs
