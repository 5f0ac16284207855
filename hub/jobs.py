"""A small scheduler for the hub's periodic jobs (snapshot retention, audit checkpoints).

One thread runs every job on its own interval (monotonic clock, so a wall-clock jump
neither skips nor repeats a run). A job that raises is logged and runs again at its
next time: a database hiccup must never stop retention or checkpoints for good.

    >>> jobs = PeriodicJobs()
    >>> jobs.add("retention", 3600, retention.run)    # doctest: +SKIP
    >>> jobs.start(); ...; jobs.stop()                 # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class _Job:
    name: str
    every_s: float
    work: Callable[[], object]
    due: float


class PeriodicJobs:
    def __init__(self, name: str = "hub-jobs") -> None:
        self._jobs: list[_Job] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def add(
        self, name: str, every_s: float, work: Callable[[], object], *, first_after_s: float = 0
    ) -> None:
        """Run ``work`` every ``every_s`` seconds, the first time ``first_after_s`` after start."""
        if every_s <= 0:
            raise ValueError(f"job {name!r}: every_s must be positive (got {every_s})")
        self._jobs.append(_Job(name, every_s, work, first_after_s))

    def start(self) -> None:
        start = time.monotonic()
        for job in self._jobs:
            job.due += start
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for job in self._jobs:
                if now < job.due:
                    continue
                try:
                    job.work()
                except Exception:
                    log.exception(
                        "periodic job %s failed; it runs again in %.0f s", job.name, job.every_s
                    )
                job.due = time.monotonic() + job.every_s
            next_due = min((j.due for j in self._jobs), default=time.monotonic() + 1)
            self._stop.wait(max(0.0, next_due - time.monotonic()))
