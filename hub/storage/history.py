"""A home's door history, newest first, a page at a time.

Each device's events are read newest first by sequence number (the order things
happened at that door, on the ``UNIQUE(device, seq)`` index), and the devices'
lists are merged by when the hub received them. A page's cursor holds, for each
device, the lowest seq already shown, so the next page starts below it whatever
the other devices did in between.

    page = history_page(session, ["door-1"], limit=100)
    page.events         # newest first
    page.next_cursor    # HistoryCursor({"door-1": 812}), or None on the last page
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models_events import Event

__all__ = ["HistoryCursor", "HistoryPage", "history_page"]


@dataclass(frozen=True, slots=True)
class HistoryCursor:
    """Per device, the lowest seq a page has shown: later pages read below it."""

    below: Mapping[str, int]

    def encode(self) -> str:
        # Device ids are [a-z0-9-]: ':' and ',' cannot occur in them.
        return ",".join(f"{d}:{s}" for d, s in sorted(self.below.items()))

    @classmethod
    def decode(cls, text: str) -> HistoryCursor:
        """Raises ValueError with the reason for a cursor this module did not write."""
        below: dict[str, int] = {}
        for part in filter(None, text.split(",")):
            device, sep, seq = part.rpartition(":")
            if not sep or not device or not seq.isdigit():
                raise ValueError(f"not a history cursor: {part!r}")
            below[device] = int(seq)
        return cls(below)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    events: list[Event]
    next_cursor: HistoryCursor | None


def history_page(
    session: Session,
    devices: Sequence[str],
    *,
    limit: int,
    cursor: HistoryCursor | None = None,
    after_seq: int = 0,
) -> HistoryPage:
    """The newest ``limit`` events of ``devices`` below ``cursor`` (and above
    ``after_seq``, each device's own numbering), newest first."""
    below = dict(cursor.below) if cursor else {}
    per_device = []
    for device in devices:
        stmt = select(Event).where(Event.device_id == device, Event.seq > after_seq)
        if device in below:
            stmt = stmt.where(Event.seq < below[device])
        # One more than a page: whether this device has anything beyond it.
        rows = list(session.scalars(stmt.order_by(Event.seq.desc()).limit(limit + 1)))
        per_device.append(rows)
    merged = list(heapq.merge(*per_device, key=lambda e: e.received_at, reverse=True))
    shown = merged[:limit]
    if len(merged) <= limit:
        return HistoryPage(shown, None)
    for event in shown:
        below[event.device_id] = min(event.seq, below.get(event.device_id, event.seq))
    return HistoryPage(shown, HistoryCursor(below))
