"""Ingest: MQTT messages -> codec -> handlers -> storage, in batches, then sync.

MQTT callbacks only enqueue. One worker takes up to ``batch`` messages per
transaction, so durable storage costs one disk flush per batch, not per event.
Events and heartbeats are also grouped inside the batch (one savepoint and one
multi-row statement each); only if a group fails are its members retried one by one.
Only after the commit does it publish each device's retained sync mark, so an
edge never deletes from its outbox what is not safely stored. A bad message is
counted, logged with its reason, and never stops ingestion. What joins a batch is
``hub.ingest_batches``'s; the savepoints around each message, ``hub.ingest_guard``'s.

    >>> ingest = Ingest(db, files, link, bus)   # doctest: +SKIP
    >>> ingest.start()                          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from protocol.base import utcnow
from protocol.codec import Decoded, WireProperties, decode, encode
from protocol.device import Sync, Telemetry
from protocol.errors import ProtocolError
from protocol.events import EventBase
from protocol.mqtt import MqttLink
from protocol.signing import SignedEnvelope
from protocol.topics import TopicKind, hub_ingest_filters, shared

from .bus import NoticeBus
from .handlers import HandlerContext, RingPictures, handler_for
from .ingest_batches import Received, gather
from .ingest_guard import guarded, store_events, store_heartbeats
from .ingest_preview import preview_rings
from .storage import count_ingest_problem
from .storage.database import Database
from .storage.devices import is_active_device
from .storage.events import stored_through
from .storage.snapshot_files import SnapshotFiles
from .webhooks.outbox import capture_events

log = logging.getLogger(__name__)

# (session, device, envelope, received_at, ctx) -> None; the command service's.
AckHandler = Callable[[Session, str, SignedEnvelope, datetime, HandlerContext], None]


@dataclass
class IngestStats:
    received: int = 0
    stored_batches: int = 0
    malformed: int = 0
    refused: int = 0
    failed_batches: int = 0


class Ingest:
    def __init__(
        self,
        db: Database,
        files: SnapshotFiles,
        link: MqttLink,
        bus: NoticeBus,
        *,
        shared_group: str | None = None,
        batch: int = 500,
        low_disk_bytes: int = 200_000_000,
        on_ack: AckHandler | None = None,
        follow_wait_s: float = 0.003,
        ack_wait_s: float = 0.015,
        heartbeat_wait_s: float = 0.02,
    ) -> None:
        self.db = db
        self.files = files
        self.link = link
        self.bus = bus
        self.batch = batch
        self.low_disk_bytes = low_disk_bytes
        self.shared_group = shared_group
        self.on_ack = on_ack
        self.follow_wait_s = follow_wait_s
        self.ack_wait_s = ack_wait_s
        self.heartbeat_wait_s = heartbeat_wait_s
        self.stats = IngestStats()
        self._queue: queue.Queue[Received | None] = queue.Queue()
        self._known: set[str] = set()
        self._pictures = RingPictures()
        self._behind: set[str] = set()  # devices whose mark may move once others commit
        self._worker = threading.Thread(target=self._run, name="hub-ingest", daemon=True)
        self._idle = threading.Event()

    def start(self) -> None:
        for filter_ in hub_ingest_filters():
            topic = shared(filter_, self.shared_group) if self.shared_group else filter_
            self.link.subscribe(topic, self._enqueue, qos=1)
        self._worker.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._worker.join(10)

    def _enqueue(self, topic: str, payload: bytes, props: WireProperties) -> None:
        self._queue.put(Received(topic, payload, props, utcnow()))

    def backlog(self) -> tuple[int, datetime | None]:
        """(messages received and not yet stored, when the oldest still queued arrived)."""
        with self._queue.mutex:  # a peek at the head only: cheap even with a long queue
            head = next((i for i in self._queue.queue if i is not None), None)
        return self._queue.unfinished_tasks, head.at if head is not None else None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and benchmarks: True once everything received so far is stored."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.005)
        return False

    # -- worker -----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.5)
            except queue.Empty:
                self._catch_up()
                continue
            if first is None:
                self._queue.task_done()
                return
            items = gather(
                self._queue,
                first,
                batch=self.batch,
                follow_wait_s=self.follow_wait_s,
                ack_wait_s=self.ack_wait_s,
                heartbeat_wait_s=self.heartbeat_wait_s,
            )
            self._process(items)
            for _ in items:
                self._queue.task_done()

    def _process(self, items: list[Received]) -> None:
        self.stats.received += len(items)
        # A new ring is on screens before its batch is stored (see ingest_preview).
        previews, decoded = preview_rings(self.db, items)
        for notice in previews:
            self.bus.post(notice)
        delay = 0.5
        while True:
            try:
                ctx = self._store(items, decoded)
                break
            except Exception:
                # The database is down or locked: keep the batch and try again. The
                # edges keep their outboxes until sync says the events are stored.
                self.stats.failed_batches += 1
                log.exception("storing a batch of %d failed; retrying in %.1f s", len(items), delay)
                time.sleep(delay)
                delay = min(delay * 2, 30)
        self.stats.stored_batches += 1
        for device, top in ctx.max_seq.items():
            if ctx.sync_devices.get(device, 0) < top:
                self._behind.add(device)
        # Committed: notices first (people are waiting on them), then the sync marks.
        for notice in ctx.notices:
            self.bus.post(notice)
        for device, through in ctx.sync_devices.items():
            sync = Sync(device=device, stored_through=through, at=utcnow())
            self.link.publish(encode(sync))
        for callback in ctx.after_commit:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")

    def _store(self, items: list[Received], decoded: dict[int, Decoded]) -> HandlerContext:
        with self.db.session() as session:
            ctx = HandlerContext(
                session,
                self.files,
                received_at=items[-1].at,
                low_disk_bytes=self.low_disk_bytes,
                pictures=self._pictures,
            )
            events: list[tuple[Received, EventBase]] = []
            heartbeats: list[tuple[Received, Telemetry]] = []
            others: list[tuple[Received, Decoded]] = []
            for i, item in enumerate(items):
                ctx.received_at = item.at
                found = self._decode(session, item, decoded.get(i))
                if found is None:
                    continue
                if isinstance(found.message, EventBase):
                    events.append((item, found.message))
                elif isinstance(found.message, Telemetry):
                    heartbeats.append((item, found.message))
                else:
                    others.append((item, found))
            # Heartbeats first, as one group: a status (e.g. a last will) that arrived
            # in the same batch is then applied after them, as it would have been.
            if heartbeats:
                store_heartbeats(session, ctx, heartbeats, problem=self._problem)
            for item, decoded in others:
                ctx.received_at = item.at
                self._one(session, ctx, item, decoded)
            if events:
                store_events(session, ctx, events, problem=self._problem)
                capture_events(session, [e for _, e in events])  # issue 10: webhook outbox
            return ctx

    def _catch_up(self) -> None:
        """When idle: move marks held back by rows another hub committed meanwhile."""
        if not self._behind:
            return
        devices, self._behind = self._behind, set()
        try:
            with self.db.session() as session:
                marks = {d: stored_through(session, d) for d in sorted(devices)}
        except Exception:
            log.exception("catching up sync marks failed")
            self._behind |= devices
            return
        for device, through in marks.items():
            self.link.publish(encode(Sync(device=device, stored_through=through, at=utcnow())))

    def _decode(self, session: Session, item: Received, done: Decoded | None) -> Decoded | None:
        try:
            decoded = done or decode(item.topic, item.payload, item.props)
        except ProtocolError as exc:
            self._problem(session, "malformed", type(exc).__name__, item, str(exc))
            return None
        device = decoded.topic.device_id
        if not self._is_known(session, device):
            self._problem(
                session,
                "refused",
                "unknown_device",
                item,
                f"device {device!r} is not registered or was revoked",
            )
            return None
        return decoded

    def _one(self, session: Session, ctx: HandlerContext, item: Received, decoded: Decoded) -> None:
        device = decoded.topic.device_id
        if decoded.topic.kind is TopicKind.ACK:
            if self.on_ack is None:
                return
            on_ack = self.on_ack
            guarded(
                session,
                ctx,
                item,
                lambda: on_ack(session, device, decoded.message, item.at, ctx),
                problem=self._problem,
            )
            return
        handler = handler_for(decoded.message)
        if handler is None:
            self._problem(
                session,
                "refused",
                "unexpected_kind",
                item,
                f"hub does not accept {decoded.topic.kind.value} messages",
            )
            return
        guarded(session, ctx, item, lambda: handler(ctx, decoded.message), problem=self._problem)

    def _is_known(self, session: Session, device: str) -> bool:
        if device in self._known:
            return True
        if is_active_device(session, device):
            self._known.add(device)
            return True
        return False

    def forget_device(self, device: str) -> None:
        """After a revocation: refuse its messages from now on."""
        self._known.discard(device)

    def _problem(
        self, session: Session, category: str, reason: str, item: Received, detail: str
    ) -> None:
        if category == "malformed":
            self.stats.malformed += 1
        else:
            self.stats.refused += 1
        log.warning("%s message on %s: %s", category, item.topic[:200], detail)
        count_ingest_problem(session, category, reason, at=item.at)
