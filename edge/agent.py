"""The edge agent: wires doorbell, lock, door contact and camera to the protocol.

Hardware callbacks and MQTT callbacks only enqueue; one worker thread does the
work in order. Every event goes through the durable outbox before it is sent.

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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hardware.interfaces import Hardware, IndicatorPattern
from protocol.audit import AuditCheckpoint
from protocol.codec import WireProperties, decode, encode, encode_signed
from protocol.commands import AckOutcome, AnyCommand, CueKind, RejectReason
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
    PrivacyChanged,
    TamperDetected,
    TamperReason,
)
from protocol.ids import new_message_id
from protocol.mqtt import LinkSettings, MqttLink
from protocol.signing import sign
from protocol.topics import TopicKind, device_filter

from .clock import AgentClock
from .command_guard import CommandGuard, Verdict
from .cue import IndoorCues
from .frames import FrameBuffer, Still
from .live_view import LiveView
from .lock_service import LockService
from .messages import MessageFactory
from .options import AgentOptions
from .outbox import Outbox
from .publisher import OutboxPublisher
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
        hub_key: Ed25519PublicKey,
        device_key: Ed25519PrivateKey,
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
        self._rejections: list[float] = []
        self.live = LiveView(self.run_soon, self._live_picture)
        self.suppressed_presses = 0
        self.started_at = time.monotonic()

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        # Safety first: the lock is engaged before anything else happens.
        self.lock.boot()
        self._worker.start()
        self.publisher.start()
        self.link.on_connected = self._connected
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
        self.link.publish(encode(self.make.status(online=True)))
        self._publish_state()
        # A heartbeat at once: the hub learns this boot's clock before any command.
        self.link.publish(encode(self.telemetry.snapshot()))
        self.publisher.reconnected()

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

    def emit(self, cls: type[EventBase], **fields: Any) -> int:
        """Write an event to the outbox, then let the publisher send it."""
        seq = self.outbox.append(lambda s: encode(self.make.event(cls, s, **fields)), "event")
        self.publisher.kick()
        return seq

    def _state_changed(self, cls: type[EventBase], **fields: Any) -> None:
        """An event that changes lock, door or privacy: record it, then the retained state."""
        self._last_state_seq = self.emit(cls, **fields)
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
        snapshot = self._snapshot_item("ring", self._best_still(), event_id=ring_id)
        snapshot_id = snapshot[0] if snapshot else None
        ring = (
            lambda s: encode(self.make.event(DoorbellRang, s, id=ring_id, snapshot_id=snapshot_id)),
            "event",
        )
        # Picture first, then the ring that refers to it; one durable write for both,
        # sent from this thread at once (the publisher thread would be one more hop).
        self.outbox.append_many([snapshot[1], ring] if snapshot else [ring])
        self.publisher.flush()
        # The visitor's cue comes after the message is on its way: it costs ~0.5 ms.
        self._show(IndicatorPattern.NOTIFYING)

    def _best_still(self) -> Still | None:
        """The sharpest recent picture (already encoded), or None: no camera, privacy."""
        if self.frames is None or self.privacy:
            return None
        return self.frames.best()

    def _snapshot_item(
        self,
        reason: str,
        still: Still | None,
        *,
        event_id: str | None = None,
        command_id: str | None = None,
    ) -> tuple[str, Any] | None:
        """(snapshot id, outbox item) for ``still``, or None without one."""
        if still is None:
            return None
        snapshot_id = new_message_id()

        def build(seq: int) -> Any:
            return encode(
                self.make.snapshot(
                    still.jpeg,
                    seq,
                    snapshot_id=snapshot_id,
                    width=still.width,
                    height=still.height,
                    reason=reason,
                    event_id=event_id,
                    command_id=command_id,
                )
            )

        return snapshot_id, (build, "snapshot")

    def _snapshot(
        self, reason: str, still: Still | None, *, command_id: str | None = None
    ) -> str | None:
        """Queue ``still`` as a snapshot and send it; its id, or None without a picture."""
        item = self._snapshot_item(reason, still, command_id=command_id)
        if item is None:
            return None
        self.outbox.append_many([item[1]])
        self.publisher.flush()
        return item[0]

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
        """Enforce the outbox bounds; tell the hub which sequence numbers will never come."""
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
        self._jobs.put(lambda: self._handle_command(payload))

    def _handle_command(self, payload: bytes) -> None:
        verdict = self.guard.check(payload)
        if verdict.command is None:
            self._rejected(verdict)
            return
        command = verdict.command
        handler = getattr(self, f"_do_{command.action}")
        handler(command)

    def _rejected(self, verdict: Verdict) -> None:
        now = time.monotonic()
        self._rejections = [t for t in self._rejections if now - t < 60] + [now]
        count = len(self._rejections)
        limit = self.options.max_rejection_acks_per_min
        if count == limit + 1:
            self.emit(
                TamperDetected,
                reason=TamperReason.REPEATED_BAD_COMMANDS,
                detail=f"more than {limit} rejected commands in a minute",
            )
        if count > limit:
            return  # answering a flood would only amplify it
        log.warning(
            "rejected command %s: %s (%s)", verdict.command_id, verdict.reason, verdict.detail
        )
        self._ack(
            verdict.command_id,
            verdict.action,
            AckOutcome.REJECTED,
            verdict.reason,
            verdict.detail,
            v=verdict.version,
        )

    def _ack(
        self,
        command_id: str | None,
        action: str | None,
        outcome: AckOutcome,
        reason: RejectReason | None = None,
        detail: str = "",
        relock_in_s: float | None = None,
        *,
        v: int,
    ) -> None:
        # ``v`` is the command's schema version: answering in it never sends a hub a
        # version it did not speak first (v1 when the command could not be read).
        ack = self.make.ack(
            v=v,
            command_id=command_id,
            action=action,
            outcome=outcome,
            lock=self.lock.state,
            counter=self.guard.counter,
            reason=reason,
            detail=detail,
            relock_in_s=relock_in_s,
        )
        envelope = sign(ack, self.device_key)
        self.link.publish(encode_signed(TopicKind.ACK, self.device_id, envelope))

    def _do_unlock(self, command: AnyCommand) -> None:
        outcome = self.lock.unlock(command.id, getattr(command, "hold_s", None))
        if outcome.ok:
            self._ack(
                command.id,
                command.action,
                AckOutcome.EXECUTED,
                relock_in_s=outcome.relock_in_s,
                v=command.v,
            )
            # Tell the person inside; the lock service already shows the pattern.
            self.cues.give(CueKind.FAMILY_UNLOCKED, pattern=False)
        else:
            self._ack(
                command.id,
                command.action,
                AckOutcome.FAILED,
                RejectReason.HARDWARE_FAULT,
                outcome.detail,
                v=command.v,
            )

    def _refused_for_privacy(self, command: AnyCommand) -> bool:
        """While the privacy switch is on, no picture leaves the door."""
        if self.privacy:
            self._ack(
                command.id,
                command.action,
                AckOutcome.REJECTED,
                RejectReason.PRIVACY,
                "privacy switch is on",
                v=command.v,
            )
        return self.privacy

    def _do_snapshot(self, command: AnyCommand) -> None:
        if self._refused_for_privacy(command):
            return
        if self._snapshot("request", self._best_still(), command_id=command.id) is None:
            self._ack(
                command.id,
                command.action,
                AckOutcome.FAILED,
                RejectReason.HARDWARE_FAULT,
                "no camera frame available",
                v=command.v,
            )
            return
        self._ack(command.id, command.action, AckOutcome.EXECUTED, v=command.v)

    def _do_live_view(self, command: AnyCommand) -> None:
        if self._refused_for_privacy(command):
            return
        if self.frames is None:
            self._ack(
                command.id,
                command.action,
                AckOutcome.FAILED,
                RejectReason.HARDWARE_FAULT,
                "this device has no camera",
                v=command.v,
            )
            return
        self.live.start(
            command.id,
            duration_s=command.duration_s,  # type: ignore[union-attr]
            interval_ms=command.interval_ms,  # type: ignore[union-attr]
        )
        self._ack(command.id, command.action, AckOutcome.EXECUTED, v=command.v)

    def _live_picture(self, command_id: str, max_age_s: float) -> None:
        """One live-view picture (on the worker): the newest, if privacy allows."""
        if self.privacy or self.frames is None:
            return
        self._snapshot("live_view", self.frames.latest(max_age_s), command_id=command_id)

    def _do_stop_live_view(self, command: AnyCommand) -> None:
        self.live.stop()
        self._ack(command.id, command.action, AckOutcome.EXECUTED, v=command.v)

    def _do_set_privacy(self, command: AnyCommand) -> None:
        privacy = bool(command.privacy)  # type: ignore[union-attr]
        self.outbox.set_state("privacy", "1" if privacy else "0")
        if privacy:
            self.live.stop()
        if self.frames is not None:
            self.frames.pause(privacy)
        self._state_changed(PrivacyChanged, privacy=privacy)
        self._ack(command.id, command.action, AckOutcome.EXECUTED, v=command.v)

    def _do_cue(self, command: AnyCommand) -> None:
        self.cues.give(command.cue, command.who)  # type: ignore[union-attr]
        self._ack(command.id, command.action, AckOutcome.EXECUTED, v=command.v)
