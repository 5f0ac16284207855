"""One delivery attempt: send a job's message on its channel and record how it went,
deciding whether (and after what backoff) a temporary failure is tried again. A retry
or a resumed delivery may also sit in another hub's queue, so it is taken in the
database before it is sent; a channel that raises counts as a failed attempt.

    sender = Sender(db, {c.name: c for c in channels}, delays=(2.0, 10.0), clock=utcnow)
    retry = sender.attempt(job)  # (next job, delay in s) to schedule, or None
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from ..storage.database import Database
from .channel import Channel, Outcome, Receipt
from .jobs import Job
from .store import FAILED, GONE, PENDING, SENT, record_attempt, take_attempt

log = logging.getLogger(__name__)


class Sender:
    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        delays: Sequence[float],
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._channels = channels
        self._delays = tuple(delays)
        self._clock = clock

    def attempt(self, job: Job) -> tuple[Job, float] | None:
        """Make one attempt at ``job``; the retry to schedule (job, delay in s) or None."""
        # A fresh claim took its first attempt already; a retry or a resumed delivery may
        # also sit in another hub's queue, so it is taken in the database first.
        if (job.attempts > 0 or job.resumed) and not self._take(job):
            log.info(
                "%s %s for %s: another hub sent it",
                job.channel,
                job.message.key,
                job.message.person_id,
            )
            return None
        channel = self._channels[job.channel]
        try:
            receipt = channel.send(job.message)
        except Exception as exc:  # a channel bug is a failed attempt, not a dead worker
            log.exception("channel %s raised", job.channel)
            receipt = Receipt(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
        attempts = job.attempts + 1
        retry = receipt.outcome is Outcome.RETRY and attempts <= len(self._delays)
        status = {
            Outcome.SENT: SENT,
            Outcome.GONE: GONE,
            Outcome.FAILED: FAILED,
            Outcome.RETRY: PENDING if retry else FAILED,
        }[receipt.outcome]
        delay = self._backoff(attempts, receipt) if retry else 0.0
        m = job.message
        now = self._clock()
        try:
            with self._db.session() as s:
                if receipt.outcome is Outcome.GONE:
                    channel.forget(s, m.target)
                record_attempt(
                    s,
                    key=m.key,
                    person_id=m.person_id,
                    channel=job.channel,
                    target=m.target,
                    status=status,
                    attempts=attempts,
                    error=None if status == SENT else receipt.detail,
                    at=now,
                    # Kept so that a restart re-queues the retry when it was due.
                    next_attempt_at=now + timedelta(seconds=delay) if retry else None,
                    provider_ref=receipt.ref,
                )
        except Exception:
            log.exception("could not record delivery %s to %s", m.key, m.target)
        if status == FAILED:
            log.warning("gave up %s %s for %s: %s", job.channel, m.key, m.person_id, receipt.detail)
        return (Job(job.channel, m, attempts), delay) if retry else None

    def _take(self, job: Job) -> bool:
        m = job.message
        try:
            with self._db.session() as s:
                return take_attempt(
                    s, key=m.key, person_id=m.person_id, channel=job.channel, target=m.target,
                    seen=job.attempts,
                    at=self._clock(),
                )  # fmt: skip
        except Exception:  # unsure: sending twice beats not sending a safety message
            log.exception("could not take delivery %s to %s", m.key, m.target)
            return True

    def _backoff(self, attempts: int, receipt: Receipt) -> float:
        # Jitter (up to +25%) keeps many failed deliveries from retrying in lockstep.
        delay = self._delays[attempts - 1] * random.uniform(1.0, 1.25)
        return max(delay, receipt.retry_after_s or 0.0)
