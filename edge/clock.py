"""The agent's sense of time: a random id per start plus the monotonic clock.

A Pi often has no real-time clock, so command freshness is judged on the
monotonic clock of *this* start (``boot_id``), which the agent reports in its
status and telemetry. The wall clock is used only when it is known to be synced.

    >>> clock = AgentClock()
    >>> len(clock.boot_id), clock.monotonic_ms() >= 0
    (16, True)
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# systemd-timesyncd creates this file once the clock has been synchronised.
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")


class AgentClock:
    def __init__(
        self,
        *,
        synced: Callable[[], bool] | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.boot_id = secrets.token_hex(8)
        self._mono = monotonic_ns
        self._start = monotonic_ns()
        self._wall = wall
        self._synced = synced or TIMESYNC_FLAG.exists

    def monotonic_ms(self) -> int:
        """Milliseconds since this agent started (never goes backwards)."""
        return (self._mono() - self._start) // 1_000_000

    def now(self) -> datetime:
        return self._wall()

    def synced(self) -> bool:
        return bool(self._synced())
