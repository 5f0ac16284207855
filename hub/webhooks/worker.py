"""The webhook delivery worker: fan out the outbox, send what is due, retry with backoff.

Everything it does starts from the database (outbox rows, delivery rows), never from
memory, so a hub that restarts -- or is killed mid-request -- picks up where it was:
at-least-once, with the same CloudEvent id each time. One thread finds work; a small
pool sends it, so one slow partner holds one sender for at most ``timeout_s``.

    worker = WebhookWorker(db, WebhookSettings())
    worker.start(); ...; worker.stop()
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from protocol.base import utcnow

from ..bus import NoticeBus, Subscription
from ..storage.database import Database
from .cloudevents import CONTENT_TYPE, envelope_bytes
from .deliveries import (
    Claimed,
    claim_due,
    prune,
    record_delivered,
    record_failed,
    work_waiting,
)
from .outbox import fan_out
from .sender import Result, post
from .settings import WebhookSettings
from .signing import signed_headers
from .targets import Resolver, system_resolver

log = logging.getLogger(__name__)

USER_AGENT = "Doorstep-Webhooks/1"
PRUNE_EVERY_S = 3600.0


def next_delay(
    attempts: int, retry_after_s: float | None, settings: WebhookSettings, rng: random.Random
) -> float:
    """Seconds before the next try, after ``attempts`` failed ones (1 = the first).

    Exponential with "equal jitter" (half fixed, half random) so partners recovering
    from an outage are not hit by every hub at once; a Retry-After is a floor.
    """
    exp = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** (attempts - 1))
    delay = exp / 2 + rng.random() * exp / 2
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, settings.retry_after_max_s))
    return delay


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        settings: WebhookSettings,
        *,
        bus: NoticeBus | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        resolve: Resolver = system_resolver,
    ) -> None:
        self.db = db
        self.resolve = resolve  # tests point names at addresses of their choice
        self.bus = bus
        self._sub: Subscription | None = None
        self._listener: threading.Thread | None = None
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._pool: ThreadPoolExecutor | None = None
        self._pruned_at: float | None = None  # monotonic

    @property
    def lease_s(self) -> float:
        # Longer than one request can take, so a live sender's claim never runs out.
        return self.settings.timeout_s + 5.0

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self.settings.senders, thread_name_prefix="webhook-send")
        self._thread.start()
        if self.bus is not None:
            # Only a hint to look now (notices follow commits); the work comes from the
            # database, so a dropped notice merely waits for the next poll.
            self._sub = self.bus.subscribe(maxsize=10)
            self._listener = threading.Thread(
                target=self._listen, name="webhooks-wake", daemon=True
            )
            self._listener.start()

    def _listen(self) -> None:
        assert self._sub is not None
        while not self._stop.is_set():
            if self._sub.get(timeout=0.5) is not None:
                self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._listener is not None:
            self._listener.join(timeout)
        if self._sub is not None:
            self._sub.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        """Look for work now (e.g. after a commit that wrote outbox rows)."""
        self._wake.set()

    # -- the loop -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup: log, wait, try again
                log.exception("webhook worker pass failed; trying again")
            if not busy:
                self._wake.wait(self.settings.poll_s)
                self._wake.clear()

    def run_once(self) -> bool:
        """Fan out and hand due deliveries to the senders; True if it found work."""
        now = self.clock()
        self._prune_if_due(now)
        with self.db.read_session() as s:
            if not work_waiting(s, now=now):
                return False
        with self.db.session() as s:
            fanned = fan_out(s, now=now)
        with self._lock:
            free = self.settings.senders - self._in_flight
        if free <= 0:
            self._wake.wait(0.05)
            return fanned > 0
        with self.db.session() as s:
            claimed = claim_due(s, now=now, lease_s=self.lease_s, limit=free)
        assert self._pool is not None
        for job in claimed:
            with self._lock:
                self._in_flight += 1
            self._pool.submit(self._attempt, job)
        return bool(fanned or claimed)

    def _prune_if_due(self, now: datetime) -> None:
        tick = time.monotonic()
        if self._pruned_at is not None and tick - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = tick
        with self.db.session() as s:
            gone = prune(s, before=now - timedelta(days=self.settings.keep_delivered_days))
        if gone:
            log.info("forgot %d delivered webhooks", gone)

    def _attempt(self, job: Claimed) -> None:
        try:
            result = self.send(job)
            self._record(job, result)
        except Exception:
            log.exception("webhook delivery %d failed unexpectedly", job.delivery_id)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._wake.set()

    def send(self, job: Claimed) -> Result:
        if job.error is not None or not job.secrets:
            return Result(None, None, (job.error or "no signing secret")[:500])
        body = envelope_bytes(job.outbox, source=self.settings.source)
        headers = signed_headers(
            job.secrets, job.outbox.ce_id, body, timestamp=int(self.clock().timestamp())
        )
        headers |= {"content-type": CONTENT_TYPE, "user-agent": USER_AGENT}
        return post(
            job.url,
            body,
            headers,
            timeout=self.settings.timeout_s,
            allow_private=self.settings.allow_private_targets,
            resolve=self.resolve,
        )

    def _record(self, job: Claimed, result: Result) -> None:
        now = self.clock()
        attempts = job.attempts + 1
        with self.db.session() as s:
            if result.ok:
                assert result.status is not None
                record_delivered(s, job.delivery_id, status=result.status, now=now)
                return
            retry_at = None
            if attempts < self.settings.max_attempts:
                delay = next_delay(attempts, result.retry_after_s, self.settings, self.rng)
                retry_at = now + timedelta(seconds=delay)
            record_failed(
                s,
                job.delivery_id,
                status=result.status,
                error=result.error,
                now=now,
                retry_at=retry_at,
            )
        if retry_at is None:
            log.warning(
                "webhook %s to %s is a dead letter after %d attempts: %s",
                job.outbox.ce_id,
                job.url,
                attempts,
                result.error,
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests: True once nothing is being sent right now."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight == 0:
                    return True
            time.sleep(0.01)
        return False
