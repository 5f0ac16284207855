"""Ingest's batches: what the worker takes from its queue for one transaction.

Up to ``batch`` messages: whatever is already queued, plus a short wait for the rest of
a burst (``hub.ingest_bursts``) and, for a batch of heartbeats only, for more heartbeats.

    items = gather(q, first, batch=500, follow_wait_s=0.003, ack_wait_s=0.015,
                   heartbeat_wait_s=0.02)
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from datetime import datetime

from protocol.codec import WireProperties

from .ingest_bursts import Follows, is_heartbeat, more_follows


@dataclass(frozen=True, slots=True)
class Received:
    topic: str
    payload: bytes
    props: WireProperties
    at: datetime


# None in the queue: ingest is stopping.
Queue = queue.Queue[Received | None]


def gather(
    q: Queue,
    first: Received,
    *,
    batch: int,
    follow_wait_s: float,
    ack_wait_s: float,
    heartbeat_wait_s: float,
) -> list[Received]:
    """``first`` and what joins it in its transaction (at most ``batch`` in all)."""
    items = [first]
    take_more(q, items, batch=batch, wait_s=0.0)
    # Some messages come in a burst (a ring's picture, then the ring; a lock's state,
    # its event, the command's ack): wait a moment for the rest so the burst shares
    # one transaction, instead of the one people wait for queueing behind another.
    # The ack gets longer: the door signs it after the event, and on a busy door
    # it missed the short wait, then waited for a whole transaction of its own.
    deadline = time.monotonic() + follow_wait_s
    while len(items) < batch:
        last = items[-1]
        follows = more_follows(last.topic, last.payload, last.props)
        if follows is Follows.NOTHING:
            break
        if follows is Follows.ACK:
            deadline = max(deadline, time.monotonic() + ack_wait_s)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not take_more(q, items, batch=batch, wait_s=remaining):
            break
    fill_with_heartbeats(q, items, batch=batch, wait_s=heartbeat_wait_s)
    return items


def fill_with_heartbeats(q: Queue, items: list[Received], *, batch: int, wait_s: float) -> None:
    """A batch of heartbeats only waits a moment for more, so a fleet's steady trickle
    shares transactions instead of paying one each; anything else ends the wait."""
    if wait_s <= 0 or not all(is_heartbeat(i.topic) for i in items):
        return
    deadline = time.monotonic() + wait_s
    while len(items) < batch:
        seen = len(items)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not take_more(q, items, batch=batch, wait_s=remaining):
            return
        if not all(is_heartbeat(i.topic) for i in items[seen:]):
            return


def take_more(q: Queue, items: list[Received], *, batch: int, wait_s: float) -> bool:
    """Add what is queued (waiting up to ``wait_s`` for the first one) to ``items``;
    False when nothing came or ingest is stopping."""
    took = False
    while len(items) < batch:
        try:
            item = q.get(timeout=wait_s) if wait_s > 0 else q.get_nowait()
        except queue.Empty:
            return took
        wait_s = 0.0
        if item is None:
            q.put(None)  # stop after this batch
            q.task_done()
            return False
        items.append(item)
        took = True
    return took
