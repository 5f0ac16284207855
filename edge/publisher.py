"""Drains the outbox to the broker, in sequence order, and prunes it on the hub's sync.

After every (re)connect it starts again from the hub's ``stored_through``, so
everything the hub has not confirmed is sent again; the hub ignores duplicates.

    >>> pub = OutboxPublisher(outbox, link); pub.start(); pub.kick()   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time

from protocol.codec import decode
from protocol.device import Sync
from protocol.errors import ProtocolError
from protocol.mqtt import MqttLink

from .outbox import Outbox

log = logging.getLogger(__name__)


class OutboxPublisher:
    def __init__(
        self, outbox: Outbox, link: MqttLink, *, batch: int = 200, resend_after_s: float = 15.0
    ) -> None:
        self.outbox = outbox
        self.link = link
        self.batch = batch
        # If the hub's mark stalls below what we sent (a message lost between broker
        # and hub), send again from the mark: the hub ignores what it already has.
        self.resend_after_s = resend_after_s
        self._progress_at = time.monotonic()
        self._last_mark = outbox.stored_through
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._sent_through = outbox.stored_through
        self._reset = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(5)

    def kick(self) -> None:
        """Something new is in the outbox."""
        self._wake.set()

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
            if self._reset.is_set() or self._stalled():
                self._reset.clear()
                self._sent_through = self.outbox.stored_through
                self._progress_at = time.monotonic()
            while self.link.connected and not self._stop.is_set():
                rows = self.outbox.pending(self._sent_through, self.batch)
                if not rows:
                    break
                for row in rows:
                    if not self.link.connected:
                        break
                    self.link.publish(row.wire)
                    self._sent_through = row.seq
