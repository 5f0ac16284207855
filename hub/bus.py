"""An in-process notice board: the hub posts what happened, listeners (the web app's
live streams, notifiers) read it. Posting never blocks ingest: a slow listener's
bounded queue drops its oldest notice and counts the loss.

    >>> bus = NoticeBus()
    >>> sub = bus.subscribe()
    >>> bus.post(Notice("ring", "door-1a2b3c", {"snapshot_id": None}))
    >>> sub.get(timeout=1).kind
    'ring'
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from protocol.base import utcnow


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # ring, snapshot, state, presence, command, alert, health
    device_id: str
    data: dict[str, Any]
    home_id: str | None = None
    at: datetime = field(default_factory=utcnow)


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

    def subscribe(self, maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, maxsize)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def post(self, notice: Notice) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.put(notice)
