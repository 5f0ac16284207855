"""The edge agent: wires doorbell, lock, door contact and camera to the protocol.

Hardware callbacks and MQTT callbacks only enqueue; one worker thread does the
work in order. Every event goes through the durable outbox before it is sent.
Commands are carried out by ``CommandHandler``, pictures sent by ``Snapshots``;
this class wires them together and owns the worker.

    >>> agent = EdgeAgent(device_id, peripherals, link_settings, outbox,
    ...                   hub_key, device_key, AgentOptions())      # doctest: +SKIP
    >>> agent.start(); ...; agent.stop()                            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hardware.interfaces import Hardware, IndicatorPattern
from protocol.audit import AuditCheckpoint
from protocol.codec import WireProperties, decode, encode
from protocol.device import LockState
from protocol.errors import ProtocolError
from protocol.events import (
    DoorbellRang,
    DoorClosed,
    DoorOpened,
    EventBase,
    LockCause,
    LockChanged,
    OutboxOverflowed,
    TamperDetected,
    TamperReason,
)
from protocol.ids import new_message_id
from protocol.mqtt import LinkSettings, MqttLink
from protocol.signing import PrivateKey, PublicKey
from protocol.topics import TopicKind, device_filter

from .clock import AgentClock
from .command_guard import CommandGuard
from .command_handler import CommandHandler
from .cue import IndoorCues
from .frames import FrameBuffer
from .live_view import LiveView
from .lock_service import LockService
from .messages import MessageFactory
from .options import AgentOptions
from .outbox import Outbox
from .publisher import OutboxPublisher
from .recorder import Recorder
from .snapshots import Snapshots
from .telemetry import TelemetryReporter

log = logging.getLogger(__name__)

__all__ = ["AgentOptions", "EdgeAgent"]


class EdgeAgent:
    def __init__(
        self,
        device_id: str,
        hardware: Hardware,
        link_settings: LinkSettings,
        outbox: Outbox,
        hub_key: PublicKey,
        device_key: PrivateKey,
        options: AgentOptions | None = None,
        clock: AgentClock | None = None,
    ) -> None:
        self.device_id = device_id
        self.hw = hardware
        self.options = options or AgentOptions()
        self.clock = clock or AgentClock()
        self.outbox = outbox
        self.device_key = device_key
        self.make = MessageFactory(device_id, self.clock)
        self.guard = CommandGuard(device_id, hub_key, self.clock, outbox)
        will = encode(self.make.status(online=False))
        self.link = MqttLink(replace(link_settings, will=will, clean_start=True))
        self.publisher = OutboxPublisher(outbox, self.link)
        self.recorder = Recorder(outbox)
        o = self.options
        self.lock = LockService(
            hardware.lock,
            hardware.door_contact,
            hardware.indicator,
            self._lock_report,
            hold_s=o.hold_s,
            jam_timeout_s=o.jam_timeout_s,
            kind=o.lock_kind,
        )
        self.frames = (
            FrameBuffer(
                hardware.camera,
                width=o.snapshot_width,
                quality=o.jpeg_quality,
                size=o.buffer_frames,
                interval_s=o.frame_interval_s,
                on_lost=self._camera_lost,
                on_restored=self._camera_restored,
            )
            if hardware.camera is not None
            else None
        )
        self.telemetry = TelemetryReporter(self, interval_s=o.heartbeat_s)
        self.cues = IndoorCues(
            hardware.indicator, o.announce_command, timeout_s=o.announce_timeout_s
        )
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="edge-worker", daemon=True)
        self._last_ring = -1e9
        self._last_state_seq = 0
        self.snapshots = Snapshots(
            self.frames, outbox, self.publisher, self.make, lambda: self.privacy
        )
        self.live = LiveView(self.run_soon, self.snapshots.live_picture)
        self.commands = CommandHandler(
            device_id,
            device_key,
            guard=self.guard,
            link=self.link,
            make=self.make,
            lock=self.lock,
            cues=self.cues,
            live=self.live,
            frames=self.frames,
            snapshots=self.snapshots,
            outbox=outbox,
            options=o,
            emit=self.emit,
            state_changed=self._state_changed,
            privacy=lambda: self.privacy,
        )
        self.suppressed_presses = 0
        self._link_down = False
        self.started_at = time.monotonic()

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        # Safety first: the lock is engaged before anything else happens.
        self.lock.boot()
        self._worker.start()
        self.publisher.start()
        self.link.on_connected = self._connected
        self.link.on_disconnected = self._disconnected
        self.link.subscribe(device_filter(TopicKind.COMMAND, self.device_id), self._on_command)
        self.link.subscribe(device_filter(TopicKind.SYNC, self.device_id), self.publisher.on_sync)
        self.link.subscribe(
            device_filter(TopicKind.CHECKPOINT, self.device_id),
            lambda topic, payload, _props: self._jobs.put(
                lambda: self._keep_checkpoint(topic, payload)
            ),
        )
        self.hw.doorbell.on_press(lambda: self._jobs.put(self._ring))
        if self.hw.door_contact is not None:
            self.hw.door_contact.on_open(lambda: self._jobs.put(self._door_opened))
            self.hw.door_contact.on_close(lambda: self._jobs.put(self._door_closed))
        if self.frames is not None:
            self.frames.pause(self.privacy)
            self.frames.start()
        self.telemetry.start()
        self.link.start_background()

    def stop(self) -> None:
        self.live.stop()
        self.telemetry.stop()
        if self.link.connected:
            try:  # a graceful goodbye; the last will covers a link that is already gone
                self.link.publish(encode(self.make.status(online=False))).wait_for_publish(2)
            except (RuntimeError, ValueError):
                log.info("could not say offline before stopping; the last will does")
        self.link.on_disconnected = None  # a goodbye, not an outage
        self.link.stop()
        self._jobs.put(None)
        self._worker.join(5)
        self.publisher.stop()
        if self.frames is not None:
            self.frames.stop()
        self.hw.doorbell.on_press(None)
        self.cues.close()
        self.lock.close()

    def _connected(self) -> None:
        # Network thread: publish presence and current state, resend the outbox.
        self._link_down = False
        self.link.publish(encode(self.make.status(online=True)))
        self._publish_state()
        # A heartbeat at once: the hub learns this boot's clock before any command.
        self.link.publish(encode(self.telemetry.snapshot()))
        self.publisher.reconnected()

    def _disconnected(self, reason: str) -> None:
        # Network thread. Said once per outage, not at every (backed-off) retry.
        if self._link_down:
            log.debug("MQTT broker still unreachable or refusing: %s", reason)
            return
        self._link_down = True
        log.warning(
            "MQTT broker closed or refused the connection (%s): retrying with backoff, events "
            "stay in the outbox. If it never reconnects, check the broker is up and that this "
            "door's certificate is valid (not revoked or expired)",
            reason,
        )

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # one failing job must not stop the agent
                log.exception("edge job failed")

    def run_soon(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def alive(self, timeout: float = 5.0) -> bool:
        """True if the worker answers within ``timeout``: what the systemd watchdog checks."""
        done = threading.Event()
        self._jobs.put(done.set)
        return done.wait(timeout)

    # -- state ---------------------------------------------------------------
    @property
    def privacy(self) -> bool:
        return self.outbox.get_state("privacy", "0") == "1"

    def _publish_state(self) -> None:
        state = self.make.state(
            self.lock.state, self.lock.door_state(), self.privacy, self._last_state_seq
        )
        self.link.publish(encode(state))

    def emit(self, cls: type[EventBase], **fields: Any) -> int | None:
        """Write an event to the outbox, then let the publisher send it (None: held back)."""
        # Stamped now: an event held while the disk is full still says when it happened.
        fields.setdefault("at", self.clock.now())
        fields.setdefault("monotonic_ms", self.clock.monotonic_ms())
        seq = self.recorder.record([(lambda s: encode(self.make.event(cls, s, **fields)), "event")])
        self.publisher.kick()
        return seq

    def _state_changed(self, cls: type[EventBase], **fields: Any) -> None:
        """An event that changes lock, door or privacy: record it, then the retained state."""
        seq = self.emit(cls, **fields)
        self._last_state_seq = self._last_state_seq if seq is None else seq
        self._publish_state()

    def _lock_report(self, state: LockState, cause: LockCause, command_id: str | None) -> None:
        self._state_changed(
            LockChanged,
            state=state,
            cause=cause,
            command_id=command_id,
            door=self.lock.door_state(),
        )

    # -- doorbell and door ----------------------------------------------------
    def _ring(self) -> None:
        now = time.monotonic()
        if now - self._last_ring < self.options.cooldown_s:
            self.suppressed_presses += 1
            return
        self._last_ring = now
        ring_id = new_message_id()
        snapshot = self.snapshots.item("ring", self.snapshots.best_still(), event_id=ring_id)
        snapshot_id = snapshot[0] if snapshot else None
        stamp = {"at": self.clock.now(), "monotonic_ms": self.clock.monotonic_ms()}
        ring = (
            lambda s: encode(
                self.make.event(DoorbellRang, s, id=ring_id, snapshot_id=snapshot_id, **stamp)
            ),
            "event",
        )
        # Picture first, then the ring that refers to it; one durable write for both,
        # sent from this thread at once (the publisher thread would be one more hop).
        self.recorder.record([snapshot[1], ring] if snapshot else [ring])
        self.publisher.flush()
        # The visitor's cue comes after the message is on its way: it costs ~0.5 ms.
        self._show(IndicatorPattern.NOTIFYING)

    def _door_opened(self) -> None:
        self._state_changed(DoorOpened)

    def _door_closed(self) -> None:
        self._state_changed(DoorClosed)
        self.lock.door_closed()

    def _camera_lost(self, detail: str) -> None:
        self._jobs.put(
            lambda: self.emit(TamperDetected, reason=TamperReason.CAMERA_LOST, detail=detail[:500])
        )

    def _camera_restored(self) -> None:
        self._jobs.put(lambda: self.emit(TamperDetected, reason=TamperReason.CAMERA_RESTORED))

    def report_drops(self) -> None:
        """Enforce the outbox bounds; tell the hub which sequence numbers will never come.

        Also the heartbeat's retry of events held while the outbox could not be written."""
        if not self.recorder.retry():
            return
        for drop in self.outbox.enforce_bounds():
            for i in range(0, len(drop.seqs), 10_000):
                self.emit(
                    OutboxOverflowed, dropped_seqs=drop.seqs[i : i + 10_000], reason=drop.reason
                )

    def _show(self, pattern: IndicatorPattern) -> None:
        try:
            self.hw.indicator.show(pattern)
        except Exception:
            log.exception("indicator failed")

    def _keep_checkpoint(self, topic: str, payload: bytes) -> None:
        """Keep the hub's newest signed audit checkpoint: a copy off the hub. Never acted on."""
        try:
            message = decode(topic, payload).message
        except ProtocolError as exc:
            log.warning("ignoring a bad audit checkpoint: %s", exc)
            return
        if isinstance(message, AuditCheckpoint):
            self.outbox.set_state("audit_checkpoint", message.checkpoint.model_dump_json())

    # -- commands --------------------------------------------------------------
    def _on_command(self, _topic: str, payload: bytes, _props: WireProperties) -> None:
        self._jobs.put(lambda: self.commands.handle(payload))
