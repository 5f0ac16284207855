"""An in-process notice board: the hub posts what happened, listeners (the web app's
live streams, notifiers) read it. Posting never blocks ingest: a slow listener's
bounded queue drops its oldest notice and counts the loss.

With several hub processes, ``relay_to`` hands every notice posted here to a relay
(``hub.notice_relay``) that shares it with the other processes; notices they share
arrive through ``deliver``, which reaches local listeners only, so nothing loops.

    >>> bus = NoticeBus()
    >>> sub = bus.subscribe()
    >>> bus.post(Notice("ring", "door-1a2b3c", {"snapshot_id": None}))
    >>> sub.get(timeout=1).kind
    'ring'
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from protocol.base import utcnow

log = logging.getLogger(__name__)


# A ring posted before its batch is stored (hub.ingest_preview); "ring" follows once stored.
RING_PREVIEW = "ring_preview"


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # ring, snapshot, state, presence, command, alert, health
    device_id: str
    data: dict[str, Any]
    home_id: str | None = None
    at: datetime = field(default_factory=utcnow)
    # None: posted by this process. Otherwise the origin id of the hub process that
    # posted it and relayed it here (see hub.notice_relay).
    origin: str | None = None


class Subscription:
    def __init__(self, bus: NoticeBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: queue.Queue[Notice] = queue.Queue(maxsize)
        self.dropped = 0

    def put(self, notice: Notice) -> None:
        while True:
            try:
                self._queue.put_nowait(notice)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> Notice | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._bus.unsubscribe(self)


class NoticeBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._relay: Callable[[Notice], None] | None = None

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, maxsize)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def relay_to(self, relay: Callable[[Notice], None] | None) -> None:
        """Also hand every notice posted from now on to ``relay`` (None: stop)."""
        with self._lock:
            self._relay = relay

    def post(self, notice: Notice) -> None:
        """A notice of this process (posted after its commit): local listeners + relay."""
        self.deliver(notice)
        with self._lock:
            relay = self._relay
        if relay is None or notice.origin is not None:
            return  # a relayed notice is never relayed again
        try:
            relay(notice)
        except Exception:  # the relay is best-effort: posting must never fail ingest
            log.exception("relaying a %s notice failed", notice.kind)

    def deliver(self, notice: Notice) -> None:
        """Hand ``notice`` to this process's listeners only (never to the relay)."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.put(notice)
