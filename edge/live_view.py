"""Live view: one picture now, then one per interval, for a limited time; one stream at most.

A small pacing thread only queues jobs for the agent's worker, which takes and sends
each picture. A job checks, when its turn comes, that its stream is still the current
one, so a stop, a newer live view (which replaces this one) or the privacy switch wins
over pictures already queued.

    >>> live = LiveView(agent.run_soon, take_picture)          # doctest: +SKIP
    >>> live.start("cmd-1", duration_s=30, interval_ms=500)     # 60 pictures
    >>> live.stop()
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

Job = Callable[[], None]
# (command id, how old a buffered picture may be) -> None; runs on the agent's worker.
TakePicture = Callable[[str, float], None]


class LiveView:
    def __init__(self, run_soon: Callable[[Job], None], take: TakePicture) -> None:
        self._run_soon = run_soon
        self._take = take
        self._stop = threading.Event()

    def start(self, command_id: str, *, duration_s: int, interval_ms: int) -> None:
        """Replace any running stream with this one."""
        self._stop.set()
        stop = self._stop = threading.Event()
        interval = interval_ms / 1000
        count = math.ceil(duration_s * 1000 / interval_ms)
        start = time.monotonic()

        def picture() -> None:
            if not stop.is_set():
                self._take(command_id, interval)

        def pace() -> None:
            # Due times are counted from the start on the monotonic clock: a late job does
            # not shift the rest, and the number of pictures does not depend on the load.
            for i in range(count):
                if stop.wait(max(0.0, start + i * interval - time.monotonic())):
                    return
                self._run_soon(picture)

        threading.Thread(target=pace, name="live-view", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
