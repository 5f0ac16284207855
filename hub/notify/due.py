"""A thread-safe queue of jobs that each become due after their own delay, and a count
of the jobs not yet finished (scheduled or being worked on), so callers can wait until
everything, retries included, is done. The worker's retry scheduler takes from it.

    due = DueQueue[str](); due.put("retry", delay_s=2.0)
    job = due.next_due(stop)  # blocks until a job is due; None once ``stop`` is set
    ...; due.done()           # once per put, when that job is finished
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class DueQueue(Generic[T]):
    def __init__(self) -> None:
        self._due: list[tuple[float, int, T]] = []  # (monotonic due time, tie-break, job)
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._outstanding = 0  # jobs scheduled or being worked on

    def put(self, job: T, delay_s: float) -> None:
        with self._cond:
            self._outstanding += 1
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), job))
            self._cond.notify_all()

    def next_due(self, stop: threading.Event) -> T | None:
        """Wait for the earliest job to fall due and take it; None once ``stop`` is set."""
        while not stop.is_set():
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
                return job
        return None

    def done(self) -> None:
        """One job taken from the queue is finished."""
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake waiting threads now (after setting their stop event)."""
        with self._cond:
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is scheduled or being worked on."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True
