"""Carries out the hub's commands and answers every one with a signed acknowledgement.

Runs on the agent's worker, one command at a time. The guard decides first; a
rejected command gets a rejection ack (rate-limited), an accepted one goes to
its ``_do_<action>`` handler.

    >>> handler = CommandHandler(device_id, device_key, guard=guard, ...)  # doctest: +SKIP
    >>> handler.handle(raw_payload)   # on the worker                      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from protocol.codec import encode_signed
from protocol.commands import AckOutcome, AnyCommand, CueKind, RejectReason
from protocol.events import PrivacyChanged, TamperDetected, TamperReason
from protocol.mqtt import MqttLink
from protocol.signing import PrivateKey, sign
from protocol.topics import TopicKind

from .command_guard import CommandGuard, Verdict
from .cue import IndoorCues
from .frames import FrameBuffer
from .live_view import LiveView
from .lock_service import LockService
from .messages import MessageFactory
from .options import AgentOptions
from .outbox import Outbox
from .snapshots import Snapshots

log = logging.getLogger(__name__)

__all__ = ["CommandHandler"]


class CommandHandler:
    def __init__(
        self,
        device_id: str,
        device_key: PrivateKey,
        *,
        guard: CommandGuard,
        link: MqttLink,
        make: MessageFactory,
        lock: LockService,
        cues: IndoorCues,
        live: LiveView,
        frames: FrameBuffer | None,
        snapshots: Snapshots,
        outbox: Outbox,
        options: AgentOptions,
        emit: Callable[..., int],
        state_changed: Callable[..., None],
        privacy: Callable[[], bool],
    ) -> None:
        self.device_id = device_id
        self.device_key = device_key
        self.guard = guard
        self.link = link
        self.make = make
        self.lock = lock
        self.cues = cues
        self.live = live
        self.frames = frames
        self.snapshots = snapshots
        self.outbox = outbox
        self.options = options
        self._emit = emit
        self._state_changed = state_changed
        self._privacy = privacy
        self._rejections: list[float] = []

    def handle(self, payload: bytes) -> None:
        verdict = self.guard.check(payload)
        if verdict.command is None:
            self._rejected(verdict)
            return
        command = verdict.command
        handler = getattr(self, f"_do_{command.action}")
        try:
            handler(command)
        except Exception as exc:  # e.g. the outbox's disk is full: still answer the hub
            log.exception("command %s (%s) failed", command.id, command.action)
            self._ack(
                command.id,
                command.action,
                AckOutcome.FAILED,
                RejectReason.HARDWARE_FAULT,
                f"{type(exc).__name__}: {exc}"[:500],
                v=command.v,
            )

    def _rejected(self, verdict: Verdict) -> None:
        now = time.monotonic()
        self._rejections = [t for t in self._rejections if now - t < 60] + [now]
        count = len(self._rejections)
        limit = self.options.max_rejection_acks_per_min
        if count == limit + 1:
            self._emit(
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
        if self._privacy():
            self._ack(
                command.id,
                command.action,
                AckOutcome.REJECTED,
                RejectReason.PRIVACY,
                "privacy switch is on",
                v=command.v,
            )
        return self._privacy()

    def _do_snapshot(self, command: AnyCommand) -> None:
        if self._refused_for_privacy(command):
            return
        still = self.snapshots.best_still()
        if self.snapshots.send("request", still, command_id=command.id) is None:
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
