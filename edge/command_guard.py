"""Checks every command before the lock may move.

In order: signature with the pinned hub key, addressed to this device, this
boot, not expired (monotonic deadline; wall clock too when synced), counter
larger than any accepted before, id never seen. The accepted counter and id are
written durably *before* the caller acts, so a crash mid-unlock cannot make the
same command valid again.

    >>> guard = CommandGuard(device_id, hub_key, clock, outbox)   # doctest: +SKIP
    >>> verdict = guard.check(raw_payload)                        # doctest: +SKIP
    >>> if verdict.command: act(verdict.command)                  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from pydantic import ValidationError

from protocol.base import SCHEMA_VERSION
from protocol.codec import MAX_JSON_BYTES
from protocol.commands import COMMAND_ADAPTER, MAX_COMMAND_LIFETIME_S, AnyCommand, RejectReason
from protocol.errors import (
    MessageInvalid,
    SignatureInvalid,
    TopicMismatch,
    UnsupportedVersion,
)
from protocol.signing import PublicKey, SignedEnvelope, open_command

from .clock import AgentClock
from .outbox import Outbox

log = logging.getLogger(__name__)

# Allow for clock-rate differences between hub and device when judging a deadline
# that lies suspiciously far in the future.
_DEADLINE_SLACK_MS = 5_000


@dataclass(frozen=True, slots=True)
class Verdict:
    command: AnyCommand | None
    reason: RejectReason | None = None
    detail: str = ""
    command_id: str | None = None
    action: str | None = None
    # The command's schema version, to answer in; v1 when it could not be read (or trusted).
    version: int = SCHEMA_VERSION


class CommandGuard:
    def __init__(
        self, device_id: str, hub_key: PublicKey, clock: AgentClock, store: Outbox
    ) -> None:
        self.device_id = device_id
        self.hub_key = hub_key
        self.clock = clock
        self.store = store

    @property
    def counter(self) -> int:
        return int(self.store.get_state("command_counter", "0"))

    def check(self, payload: bytes) -> Verdict:
        if len(payload) > MAX_JSON_BYTES:
            return Verdict(None, RejectReason.MALFORMED, f"{len(payload)} bytes is too large")
        try:
            envelope = SignedEnvelope.model_validate_json(payload)
        except ValidationError as exc:
            return Verdict(
                None, RejectReason.MALFORMED, f"not a signed envelope: {exc.errors()[0]['msg']}"
            )
        try:
            command = open_command(envelope, self.hub_key, self.device_id)
        except SignatureInvalid as exc:
            reason = (
                RejectReason.UNKNOWN_KEY if "pinned key" in str(exc) else RejectReason.BAD_SIGNATURE
            )
            return Verdict(None, reason, str(exc))
        except TopicMismatch as exc:
            # Signed and well-formed, only addressed elsewhere: the id is readable, so the
            # ack names it (the protocol keeps command_id null for unreadable commands).
            other = COMMAND_ADAPTER.validate_json(envelope.payload, strict=True)
            return Verdict(
                None, RejectReason.WRONG_DEVICE, str(exc), other.id, other.action, other.v
            )
        except UnsupportedVersion as exc:
            return Verdict(None, RejectReason.UNSUPPORTED, str(exc))
        except MessageInvalid as exc:
            return Verdict(None, RejectReason.MALFORMED, str(exc))
        return self._fresh(command)

    def _reject(self, command: AnyCommand, reason: RejectReason, detail: str) -> Verdict:
        return Verdict(None, reason, detail, command.id, command.action, command.v)

    def _fresh(self, command: AnyCommand) -> Verdict:
        if command.boot_id != self.clock.boot_id:
            return self._reject(
                command,
                RejectReason.STALE_BOOT,
                "command was made for an earlier start of this device",
            )
        now_ms = self.clock.monotonic_ms()
        if now_ms > command.not_after_monotonic_ms:
            return self._reject(
                command,
                RejectReason.EXPIRED,
                f"deadline passed {now_ms - command.not_after_monotonic_ms} ms ago",
            )
        if (
            command.not_after_monotonic_ms - now_ms
            > MAX_COMMAND_LIFETIME_S * 1000 + _DEADLINE_SLACK_MS
        ):
            return self._reject(command, RejectReason.EXPIRED, "deadline lies too far ahead")
        if self.clock.synced() and self.clock.now() > command.expires_at:
            return self._reject(command, RejectReason.EXPIRED, "expired by the synced wall clock")
        return self._accept(command)

    def _accept(self, command: AnyCommand) -> Verdict:
        try:
            result = self.store.accept_command(command.id, command.counter)
        except sqlite3.Error as exc:
            # Not stored, not done: acting on it would let a replay pass after a restart.
            log.error("cannot store command %s's counter, refused: %s", command.id, exc)
            return self._reject(
                command,
                RejectReason.HARDWARE_FAULT,
                f"cannot store the command counter ({exc}): not carried out",
            )
        if result == "counter":
            return self._reject(
                command,
                RejectReason.COUNTER_REPLAYED,
                f"counter {command.counter} <= last accepted {self.counter}",
            )
        if result == "duplicate":
            return self._reject(command, RejectReason.DUPLICATE_ID, "command id seen before")
        return Verdict(command, None, "", command.id, command.action, command.v)
