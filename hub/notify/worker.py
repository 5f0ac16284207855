"""The delivery worker: reads the hub's notice board and delivers in the background.

One thread turns notices into jobs (jobs.py: route.py says who, preferences.py and
ratelimit.py whether; one per notification key and person, claimed in the database so a
repeated notice sends nothing twice); a scheduler thread hands each job to a small pool
when it falls due (due.py), and the pool sends it (sender.py), temporary failures coming
back after an exponential backoff; an upkeep thread asks services that can tell (GOV.UK
Notify) whether sent messages were delivered. Ingest only ever posts to the bus, so
nothing here can slow it; a slow channel holds one pool thread for at most its own
timeout. Pending deliveries a stopped worker left behind are re-queued on start, each at
its recorded next-attempt time (delivery is at least once: a crash between a send and
its record sends that message again).

    worker = NotifyWorker(hub.db, hub.bus, [WebPushChannel(hub.db, keys, subject=...)])
    worker.start(); ...; worker.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from protocol.base import utcnow

from ..bus import Notice, NoticeBus, Subscription
from ..storage.database import Database
from .channel import Channel
from .due import DueQueue
from .jobs import ROUTED_KINDS, Job, claim_jobs
from .ratelimit import RateLimit
from .sender import Sender
from .store import prune
from .upkeep import left_pending, poll_reports

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS_S = (2.0, 10.0, 60.0, 300.0)
DEFAULT_RATE_LIMIT = RateLimit()
PRUNE_EVERY_S = 3600.0


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
        self._sender = Sender(db, self._channels, delays=retry_delays_s, clock=clock)
        self._senders = senders
        self._clock = clock
        self._rate_limit = rate_limit
        self._resume_max_age = timedelta(seconds=resume_max_age_s)
        self._report_every_s = report_every_s
        self._keep = timedelta(days=keep_days)
        self._stop = threading.Event()
        self._due: DueQueue[Job] = DueQueue()
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
        self._due.wake()
        for t in self._threads:
            t.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._sub is not None:
            self._sub.close()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is scheduled or being sent (retries included)."""
        return self._due.wait_idle(timeout)

    def resume(self) -> int:
        """Re-queue deliveries left pending (by a stop or a crash); returns how many."""
        left = left_pending(self._db, set(self._channels), self._clock(), self._resume_max_age)
        jobs = [
            (Job(channel, message, attempts, resumed=True), delay)
            for channel, message, attempts, delay in left
        ]
        for job, delay in jobs:
            self._due.put(job, max(0.0, delay))
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
                    self._due.put(job, 0.0)
            except Exception:  # one bad notice must not end notifications for everyone
                log.exception("could not route notice %s of %s", notice.kind, notice.device_id)

    def jobs_for(self, notice: Notice) -> list[Job]:
        """The new (not yet claimed) deliveries a notice calls for (see jobs.py)."""
        if notice.kind not in ROUTED_KINDS:
            return []
        now = self._clock()
        with self._db.session() as s:
            return claim_jobs(
                s, notice, self._channels.values(), rate_limit=self._rate_limit, now=now
            )

    # -- scheduling and sending ----------------------------------------------------

    def _schedule(self) -> None:
        while (job := self._due.next_due(self._stop)) is not None:
            assert self._pool is not None
            self._pool.submit(self._attempt, job)

    def _attempt(self, job: Job) -> None:
        try:
            retry = self._sender.attempt(job)
            if retry is not None and not self._stop.is_set():
                self._due.put(*retry)
        except Exception:  # e.g. a channel since removed: logged, and wait_idle still ends
            log.exception("delivery of %s on %s failed", job.message.key, job.channel)
        finally:
            self._due.done()

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
