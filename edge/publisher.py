"""Drains the outbox to the broker, in sequence order, and prunes it on the hub's sync.

After every (re)connect it starts again from the hub's ``stored_through``, so
everything the hub has not confirmed is sent again; the hub ignores duplicates.

    >>> pub = OutboxPublisher(outbox, link); pub.start(); pub.kick()   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from protocol.codec import decode
from protocol.device import Sync
from protocol.errors import ProtocolError
from protocol.mqtt import MqttLink

from .outbox import Outbox

if TYPE_CHECKING:
    from paho.mqtt.client import MQTTMessageInfo

log = logging.getLogger(__name__)


class OutboxPublisher:
    def __init__(
        self,
        outbox: Outbox,
        link: MqttLink,
        *,
        batch: int = 200,
        resend_after_s: float = 15.0,
        max_queued_bytes: int = 1024 * 1024,
    ) -> None:
        self.outbox = outbox
        self.link = link
        self.batch = batch
        self.max_queued_bytes = max_queued_bytes
        self.checkpoint_every_s = 1.0
        self._checkpointed_at = 0.0
        # If the hub's mark stalls below what we sent (a message lost between broker
        # and hub), send again from the mark: the hub ignores what it already has.
        self.resend_after_s = resend_after_s
        self._progress_at = time.monotonic()
        self._last_mark = outbox.stored_through
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._sent_through = outbox.stored_through
        self._reset = threading.Event()
        # One sender at a time, so messages leave in sequence order whichever thread sends.
        self._sending = threading.RLock()
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5)

    def kick(self) -> None:
        """Something new is in the outbox: the publisher thread sends it."""
        self._wake.set()

    def flush(self) -> None:
        """Send what is new now, in the caller's thread (saves a thread hop on the ring path).

        Never blocks on the publisher thread: while it is sending (a backlog after a
        reconnect, which must go first to keep the order) this only wakes it.
        """
        if not self._sending.acquire(blocking=False):
            self._wake.set()
            return
        try:
            if self._reset.is_set() or not self.link.connected:
                self._wake.set()
                return
            self._send_new(drain=False)
        finally:
            self._sending.release()

    def reconnected(self) -> None:
        """Resend everything not yet confirmed (called from the link's on_connected)."""
        self._reset.set()
        self._wake.set()

    def on_sync(self, topic: str, payload: bytes, props: object) -> None:
        """Handler for the retained sync topic (network thread: quick)."""
        try:
            sync = decode(topic, payload).message
        except ProtocolError as exc:
            log.warning("ignoring bad sync message: %s", exc)
            return
        if not isinstance(sync, Sync):
            return
        last = self.outbox.last_seq
        if sync.stored_through > last:
            # The hub holds more than we ever sent: this outbox was replaced (new SD
            # card). Jump ahead so new events are not mistaken for duplicates.
            log.warning(
                "hub has seq %d but outbox is at %d: skipping ahead", sync.stored_through, last
            )
            self.outbox.set_state("last_seq", str(sync.stored_through))
        self.outbox.prune_through(sync.stored_through)
        if sync.stored_through > self._last_mark:
            self._last_mark = sync.stored_through
            self._progress_at = time.monotonic()

    def _stalled(self) -> bool:
        return (
            self._sent_through > self.outbox.stored_through
            and time.monotonic() - self._progress_at > self.resend_after_s
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            with self._sending:
                if self._reset.is_set() or self._stalled():
                    self._reset.clear()
                    self._sent_through = self.outbox.stored_through
                    self._progress_at = time.monotonic()
            self._send_new(drain=True)
            self._checkpoint()

    def _checkpoint(self) -> None:
        """At most once a second: keep the outbox's WAL short, away from the ring path."""
        now = time.monotonic()
        if now - self._checkpointed_at < self.checkpoint_every_s:
            return
        self._checkpointed_at = now
        try:
            self.outbox.checkpoint()
        except sqlite3.Error as exc:
            log.warning(
                "outbox checkpoint failed (retried in %s s): %s", self.checkpoint_every_s, exc
            )

    def _send_new(self, *, drain: bool) -> None:
        queued = 0
        with self._sending:
            while self.link.connected and not self._stop.is_set():
                rows = self.outbox.pending(self._sent_through, self.batch)
                if not rows:
                    break
                for row in rows:
                    if not self.link.connected:
                        break
                    info = self.link.publish(row.wire)
                    self._sent_through = row.seq
                    queued += len(row.wire.payload)
                    if drain and queued >= self.max_queued_bytes:
                        # paho keeps every message it has not sent in memory: a backlog
                        # after an outage (up to the outbox's size) goes out in slices.
                        self._wait_sent(info)
                        queued = 0

    def _wait_sent(self, info: MQTTMessageInfo) -> None:
        while self.link.connected and not self._stop.is_set():
            try:
                info.wait_for_publish(0.5)
                if info.is_published():
                    return
            except (ValueError, RuntimeError):  # not queued or failed: resent after reconnect
                return
