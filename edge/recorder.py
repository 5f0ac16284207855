"""Writes events to the durable outbox, and holds them in memory while the disk refuses.

A full or read-only SD card must not lose a ring: what cannot be written is kept
(at most ``max_held`` items, pictures dropped first) and written, in order, with
the next event or at the next ``retry()``. Nothing is sent before it is stored, so
sequence numbers stay durable and without gaps.

    >>> rec = Recorder(outbox)                          # doctest: +SKIP
    >>> rec.record([(build, "event")])   # its seq; None while held   # doctest: +SKIP
    >>> rec.retry()                      # the heartbeat's second try  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

from protocol.codec import WireMessage

from .outbox import Kind, Outbox

log = logging.getLogger(__name__)

Item = tuple[Callable[[int], WireMessage], Kind]

__all__ = ["Recorder"]


class Recorder:
    def __init__(self, outbox: Outbox, *, max_held: int = 1000, max_held_snapshots: int = 10):
        self.outbox = outbox
        self.max_held = max_held
        self.max_held_snapshots = max_held_snapshots
        self.error: str | None = None  # the write error while something is held
        self.lost = 0  # held items dropped to stay within the bounds
        self._held: list[Item] = []
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        return len(self._held)

    def record(self, items: list[Item]) -> int | None:
        """Store what is held, then ``items``; the last one's seq, or None if held."""
        with self._lock:
            self._held.extend(items)
            self._bound()
            if not self._held:
                return None
            try:
                seqs = self.outbox.append_many(self._held)
            except sqlite3.Error as exc:
                if self.error is None:
                    log.error(
                        "cannot write the outbox %s (%s): holding events in memory until it "
                        "can; free space on that disk or make it writable",
                        self.outbox.path,
                        exc,
                    )
                self.error = str(exc)
                return None
            if self.error is not None:
                log.warning("outbox writable again: %d held message(s) stored", len(seqs))
                self.error = None
            self._held = []
            return seqs[-1]

    def retry(self) -> bool:
        """Write what is held; True when nothing is held any more."""
        if self._held:
            self.record([])
        return not self._held

    def _bound(self) -> None:
        # Pictures go first (a ring without its picture beats a lost ring), oldest first.
        while len(self._held) > self.max_held or (
            sum(kind == "snapshot" for _, kind in self._held) > self.max_held_snapshots
        ):
            snapshots = [i for i, (_, kind) in enumerate(self._held) if kind == "snapshot"]
            del self._held[snapshots[0] if snapshots else 0]
            self.lost += 1
            log.error("outbox still not writable: dropped a held message (%d so far)", self.lost)
