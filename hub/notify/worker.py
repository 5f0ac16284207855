"""The delivery worker: reads the hub's notice board and delivers in the background.

One thread turns notices into messages (who, on which channel target; one per ring
and person, claimed in the database so a repeated ring notice sends nothing twice);
a small pool sends them; a scheduler thread re-queues temporary failures after an
exponential backoff. Ingest only ever posts to the bus, so nothing here can slow it;
a slow channel holds one pool thread for at most its own timeout.

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
from datetime import datetime

from protocol.base import utcnow

from ..bus import Notice, NoticeBus, Subscription
from ..storage.database import Database
from .channel import Channel, Message, Outcome, Receipt
from .compose import (
    ALERT_MESSAGES,
    alert_recipients,
    alert_text,
    ring_recipients,
    ring_text,
    ring_url,
)
from .store import FAILED, GONE, PENDING, SENT, claim_delivery, record_attempt

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS_S = (2.0, 10.0, 60.0, 300.0)


@dataclass(frozen=True, slots=True)
class Job:
    channel: str
    message: Message
    attempts: int = 0  # attempts made so far


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
    ) -> None:
        self._db = db
        self._bus = bus
        self._channels = {c.name: c for c in channels}
        self._delays = tuple(retry_delays_s)
        self._senders = senders
        self._clock = clock
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
        for name, target in (("notify-route", self._listen), ("notify-retry", self._schedule)):
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
        home = notice.home_id
        if home is None or notice.kind not in ("ring", "alert"):
            return []
        jobs: list[Job] = []
        now = self._clock()
        with self._db.session() as s:
            if notice.kind == "ring":
                kind = "ring"
                event = notice.data.get("event_id") or f"{notice.device_id}@{notice.at.isoformat()}"
                key, tag = f"ring:{event}", f"ring-{notice.device_id}"
                title, body, data = ring_text(s, home, notice)
                people = ring_recipients(s, home)
            else:
                if str(notice.data.get("alert")) not in ALERT_MESSAGES:
                    return []
                kind, title, body, data = alert_text(s, home, notice)
                key, tag = f"alert:{notice.data.get('alert_id')}", f"{kind}-{notice.device_id}"
                people = alert_recipients(s, home)
            channels = [c for c in self._channels.values() if kind in c.kinds]
            for person in people:
                for channel in channels:
                    for target in channel.targets(s, person):
                        if not claim_delivery(
                            s,
                            key=key,
                            person_id=person,
                            channel=channel.name,
                            target=target,
                            at=now,
                        ):
                            continue  # this already went (or is going) there
                        message = Message(
                            key=key,
                            kind=kind,
                            person_id=person,
                            target=target,
                            title=title,
                            body=body,
                            url=ring_url(home),
                            tag=tag,
                            data=data,
                        )
                        jobs.append(Job(channel.name, message))
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
        m = job.message
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
                    at=self._clock(),
                )
        except Exception:
            log.exception("could not record delivery %s to %s", m.key, m.target)
        if status == FAILED:
            log.warning("gave up %s %s for %s: %s", job.channel, m.key, m.person_id, receipt.detail)
        if retry:
            self._enqueue(Job(job.channel, m, attempts), self._backoff(attempts, receipt))
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()

    def _backoff(self, attempts: int, receipt: Receipt) -> float:
        # Jitter (up to +25%) keeps many failed deliveries from retrying in lockstep.
        delay = self._delays[attempts - 1] * random.uniform(1.0, 1.25)
        return max(delay, receipt.retry_after_s or 0.0)
