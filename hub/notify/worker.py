"""The delivery worker: reads the hub's notice board and delivers in the background.

One thread turns notices into messages (route.py: who; preferences.py / ratelimit.py:
whether; one per notification key and person, claimed in the database so a repeated
notice sends nothing twice); a small pool sends them; a scheduler thread re-queues
temporary failures after an exponential backoff, and a receipts thread asks services
that can tell (GOV.UK Notify) whether sent messages were delivered. Ingest only ever
posts to the bus, so nothing here can slow it; a slow channel holds one pool thread for
at most its own timeout. Pending deliveries a stopped worker left behind are re-queued
on start, each at its recorded next-attempt time (delivery is at least once: a crash
between a send and its record sends that message again).

    worker = NotifyWorker(hub.db, hub.bus, [WebPushChannel(hub.db, keys, subject=...)])
    worker.start(); ...; worker.stop()
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from protocol.base import utcnow

from ..bus import Notice, NoticeBus, Subscription
from ..storage.database import Database
from ..storage.models_notify import NotificationRow
from ..storage.models_registry import Home
from .channel import Channel, Message, Outcome, Receipt
from .preferences import Preferences, hold_back, load
from .ratelimit import RateLimit, over_limit
from .route import Draft, draft_for, message_of, row_of
from .store import (
    FAILED,
    GONE,
    PENDING,
    SENT,
    add_recipient,
    claim_delivery,
    hold_recipient,
    prune,
    record_attempt,
    save_notification,
    take_attempt,
)
from .upkeep import left_pending, poll_reports

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS_S = (2.0, 10.0, 60.0, 300.0)
DEFAULT_RATE_LIMIT = RateLimit()
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Job:
    channel: str
    message: Message
    attempts: int = 0  # attempts made so far
    # Re-queued from the database: another hub may hold the same delivery (see _take).
    resumed: bool = False


class NotifyWorker:
    def __init__(
        self,
        db: Database,
        bus: NoticeBus,
        channels: Iterable[Channel],
        *,
        retry_delays_s: Sequence[float] = DEFAULT_RETRY_DELAYS_S,
        senders: int = 4,
        clock: Callable[[], datetime] = utcnow,
        rate_limit: RateLimit = DEFAULT_RATE_LIMIT,
        resume_max_age_s: float = 3600.0,
        report_every_s: float | None = 60.0,
        keep_days: float = 30.0,
    ) -> None:
        self._db = db
        self._bus = bus
        self._channels = {c.name: c for c in channels}
        self._delays = tuple(retry_delays_s)
        self._senders = senders
        self._clock = clock
        self._rate_limit = rate_limit
        self._resume_max_age = timedelta(seconds=resume_max_age_s)
        self._report_every_s = report_every_s
        self._keep = timedelta(days=keep_days)
        self._stop = threading.Event()
        self._due: list[tuple[float, int, Job]] = []  # (monotonic due time, tie-break, job)
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._outstanding = 0  # jobs scheduled or being sent
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self._sub: Subscription | None = None

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self._sub = self._bus.subscribe()  # before returning: no ring after start is missed
        self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix="notify-send")
        self.resume()
        loops: list[tuple[str, Callable[[], None]]] = [
            ("notify-route", self._listen),
            ("notify-retry", self._schedule),
            ("notify-upkeep", self._upkeep),  # receipts, forgetting old notifications
        ]
        for name, target in loops:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._sub is not None:
            self._sub.close()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is scheduled or being sent (retries included)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def resume(self) -> int:
        """Re-queue deliveries left pending (by a stop or a crash); returns how many."""
        left = left_pending(self._db, set(self._channels), self._clock(), self._resume_max_age)
        jobs = [
            (Job(channel, message, attempts, resumed=True), delay)
            for channel, message, attempts, delay in left
        ]
        for job, delay in jobs:
            self._enqueue(job, max(0.0, delay))
        if jobs:
            log.info("re-queued %d pending notification deliveries", len(jobs))
        return len(jobs)

    # -- notices -> jobs ----------------------------------------------------------

    def _listen(self) -> None:
        assert self._sub is not None
        while not self._stop.is_set():
            notice = self._sub.get(timeout=0.2)
            if notice is None:
                continue
            try:
                for job in self.jobs_for(notice):
                    self._enqueue(job, 0.0)
            except Exception:  # one bad notice must not end notifications for everyone
                log.exception("could not route notice %s of %s", notice.kind, notice.device_id)

    def jobs_for(self, notice: Notice) -> list[Job]:
        """The new (not yet claimed) deliveries a notice calls for."""
        # Stored rings only, not their previews: routing writes to the database, and doing
        # that while ingest stores the same ring made both slower (bench.ring_to_screen).
        if notice.kind not in ("ring", "alert", "notify"):
            return []
        now = self._clock()
        jobs: list[Job] = []
        with self._db.session() as s:
            draft = draft_for(s, notice)
            if draft is None or not draft.recipients:
                return []
            note = row_of(draft, now)
            save_notification(s, note)
            home = s.get(Home, draft.home_id) if draft.home_id else None
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
                    limit=self._rate_limit,
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
                mine = self._claim(s, note, draft, person, prefs, now)
                if not mine:
                    hold_recipient(s, draft.key, person, "no_target")
                jobs.extend(mine)
        return jobs

    def _claim(
        self,
        s: Session,
        note: NotificationRow,
        draft: Draft,
        person: str,
        prefs: Preferences,
        now: datetime,
    ) -> list[Job]:
        usable = [c for c in self._channels.values() if draft.kind in c.kinds]
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

    # -- scheduling and sending ----------------------------------------------------

    def _enqueue(self, job: Job, delay_s: float) -> None:
        with self._cond:
            self._outstanding += 1
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), job))
            self._cond.notify_all()

    def _schedule(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._due:
                    self._cond.wait(0.5)
                    continue
                due, _, job = self._due[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._due)
            assert self._pool is not None
            self._pool.submit(self._attempt, job)

    def _attempt(self, job: Job) -> None:
        # A fresh claim took its first attempt already; a retry or a resumed delivery may
        # also sit in another hub's queue, so it is taken in the database first.
        if (job.attempts > 0 or job.resumed) and not self._take(job):
            log.info(
                "%s %s for %s: another hub sent it",
                job.channel,
                job.message.key,
                job.message.person_id,
            )
            self._done_one()
            return
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
        if retry and not self._stop.is_set():
            self._enqueue(Job(job.channel, m, attempts), delay)
        self._done_one()

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

    def _done_one(self) -> None:
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()

    def _backoff(self, attempts: int, receipt: Receipt) -> float:
        # Jitter (up to +25%) keeps many failed deliveries from retrying in lockstep.
        delay = self._delays[attempts - 1] * random.uniform(1.0, 1.25)
        return max(delay, receipt.retry_after_s or 0.0)

    # -- receipts and upkeep ------------------------------------------------------------

    def poll_reports(self) -> int:
        """Ask reporting channels about sent messages; returns how many changed."""
        return poll_reports(self._db, self._channels.values(), self._clock)

    def prune(self) -> int:
        """Forget notifications older than ``keep_days`` (see store.prune)."""
        removed = 0
        while True:
            with self._db.session() as s:
                n = prune(s, self._clock() - self._keep)
            removed += n
            if n == 0 or self._stop.is_set():
                return removed

    def _upkeep(self) -> None:
        """Receipts every ``report_every_s``; old notifications forgotten hourly."""
        every = min(self._report_every_s or PRUNE_EVERY_S, PRUNE_EVERY_S)
        last_prune = -PRUNE_EVERY_S
        while not self._stop.wait(every):
            try:
                if self._report_every_s is not None:
                    self.poll_reports()
                if time.monotonic() - last_prune >= PRUNE_EVERY_S:
                    last_prune = time.monotonic()
                    self.prune()
            except Exception:
                log.exception("notification upkeep failed")
