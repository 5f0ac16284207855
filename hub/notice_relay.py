"""The notice relay: every hub process's notice board hears every process's notices.

With ``shared_group`` the broker hands each device message to one hub process, so the
notice it causes is posted on that process's ``NoticeBus`` only. The relay publishes
each notice posted here (bus posts come after their commit) to ``HUB_NOTICES`` with
this process's random origin id, subscribes to that topic *without* sharing, and
delivers the notices of other origins to the local listeners only (``bus.deliver``):
its own echoes are dropped and a relayed notice is never relayed again.

QoS 0, on purpose: a live notice is worth something only now. The hub's session is
persistent, and at QoS 1 the broker would queue notices for a stopped process and
replay an hour of stale rings when it restarts (and keep queuing for a process that
never comes back); Mosquitto does not queue QoS 0 for offline sessions. What a notice
says is stored, so a page that missed one reads it from the ``GET`` endpoints.

Posting never waits for the broker: the bus hands each notice to a bounded queue, and
one worker publishes what has gathered (up to ``MAX_BATCH`` notices per message, so a
ring storm costs far fewer messages than notices; a lone notice goes alone at once).
The origin also rides in an MQTT v5 user property, so a process drops its own echoes
without parsing them.

    >>> relay = NoticeRelay(link, bus)   # doctest: +SKIP
    >>> relay.start()                    # before link.start(): subscribed on every connect
    >>> relay.stats.delivered            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from protocol.codec import WireMessage, WireProperties
from protocol.mqtt import MqttLink
from protocol.topics import HUB_NOTICES

from .bus import Notice, NoticeBus
from .runtime_settings import HubRuntimeSettings

log = logging.getLogger(__name__)

MAX_BATCH = 100  # notices per message; a notice is a few hundred bytes
# Far above MAX_BATCH notices, below the broker's message limit; bigger is refused unparsed.
MAX_PAYLOAD = 512 * 1024
QUEUE_SIZE = 10_000  # notices waiting to be published; beyond, new ones are dropped
ORIGIN_PROPERTY = "origin"


def relay_enabled(runtime: HubRuntimeSettings) -> bool:
    """The ``notice_relay`` setting; unset means on exactly when ingest is shared."""
    if runtime.notice_relay is None:
        return runtime.shared_group is not None
    return runtime.notice_relay


class RelayedNotice(BaseModel):
    """One ``Notice`` as it travels between hub processes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="ring, state, ...")
    device_id: str = Field(max_length=128, description="Empty for home-level notices.")
    home_id: str | None = Field(default=None, max_length=128)
    at: AwareDatetime
    data: dict[str, Any]

    @classmethod
    def of(cls, notice: Notice) -> RelayedNotice:
        return cls(
            kind=notice.kind,
            device_id=notice.device_id,
            home_id=notice.home_id,
            at=notice.at,
            # Bytes are in-process extras (a ring's picture): other processes' pages
            # fetch the picture by its snapshot id instead.
            data={k: v for k, v in notice.data.items() if not isinstance(v, bytes)},
        )

    def to_notice(self, origin: str) -> Notice:
        return Notice(self.kind, self.device_id, dict(self.data), self.home_id, self.at, origin)


class RelayedNotices(BaseModel):
    """The JSON message on ``HUB_NOTICES``: notices one hub process posted, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = Field(default=1, description="Version of this message.")
    origin: str = Field(pattern=r"^[0-9a-f]{32}$", description="The posting process's id.")
    notices: list[RelayedNotice] = Field(min_length=1, max_length=MAX_BATCH)


@dataclass
class RelayStats:
    published: int = 0  # notices sent
    messages: int = 0  # MQTT messages they went in
    publish_failed: int = 0  # notices lost: not connected, or not serialisable
    dropped: int = 0  # notices lost: the queue was full (broker far too slow)
    delivered: int = 0  # other processes' notices put on the local board
    own: int = 0  # messages that were our own echoes, dropped unparsed
    malformed: int = 0  # messages dropped: too big, not JSON, or not RelayedNotices


class NoticeRelay:
    """Shares one hub process's ``NoticeBus`` with the other processes over MQTT."""

    def __init__(self, link: MqttLink, bus: NoticeBus, origin: str | None = None) -> None:
        self.link = link
        self.bus = bus
        # Random per relay, not the MQTT client id: two hubs misconfigured with one
        # client id must still not mistake each other's notices for their own echoes.
        self.origin = origin or secrets.token_hex(16)
        self.stats = RelayStats()
        self._lock = threading.Lock()  # stats: counted on the worker and network threads
        self._queue: queue.Queue[Notice | None] = queue.Queue(QUEUE_SIZE)
        self._worker = threading.Thread(target=self._run, name="hub-notice-relay", daemon=True)

    def start(self) -> None:
        """Subscribe (non-shared: every process must hear every notice) and start relaying."""
        self.link.subscribe(HUB_NOTICES, self._on_message, qos=0)
        self._worker.start()
        self.bus.relay_to(self.publish)

    def stop(self) -> None:
        """Stop relaying; what was already queued is still sent."""
        self.bus.relay_to(None)
        if self._worker.is_alive():
            self._queue.put(None)
            self._worker.join(5)

    def publish(self, notice: Notice) -> None:
        """Queue ``notice`` (posted by this process) for every other hub process."""
        try:
            self._queue.put_nowait(notice)
        except queue.Full:
            self._count("dropped")

    # -- worker ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                self._send(batch)
            except Exception:  # never let one bad batch end relaying for good
                self._count("publish_failed", len(batch))
                log.exception("relaying %d notices failed", len(batch))
            if stopping:
                return

    def _send(self, batch: list[Notice]) -> None:
        notices = []
        for notice in batch:
            try:
                notices.append(RelayedNotice.of(notice))
            except ValidationError as exc:
                self._count("publish_failed")
                log.warning("cannot relay %s notice of %r: %s", notice.kind, notice.device_id, exc)
        if not notices:
            return
        message = RelayedNotices(origin=self.origin, notices=notices)
        props = WireProperties(user_properties=((ORIGIN_PROPERTY, self.origin),))
        payload = message.model_dump_json(fallback=str).encode()  # like the SSE stream's str
        info = self.link.publish(WireMessage(HUB_NOTICES, payload, 0, False, props))
        if info.rc == 0:
            self._count("published", len(notices))
            self._count("messages")
        else:
            self._count("publish_failed", len(notices))

    # -- MQTT network thread: validate, deliver (non-blocking puts), return ------------
    def _on_message(self, _topic: str, payload: bytes, props: WireProperties) -> None:
        if (ORIGIN_PROPERTY, self.origin) in props.user_properties:
            self._count("own")
            return
        if len(payload) > MAX_PAYLOAD:
            self._malformed(f"{len(payload)} bytes (limit {MAX_PAYLOAD})")
            return
        try:
            message = RelayedNotices.model_validate_json(payload)
        except ValidationError as exc:
            self._malformed(str(exc.errors(include_url=False, include_input=False)[:3]))
            return
        if message.origin == self.origin:  # our own, without the property
            self._count("own")
            return
        for relayed in message.notices:
            self.bus.deliver(relayed.to_notice(message.origin))
        self._count("delivered", len(message.notices))

    def _malformed(self, why: str) -> None:
        self._count("malformed")
        log.warning("dropped a malformed relayed notice on %s: %s", HUB_NOTICES, why)

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + n)
