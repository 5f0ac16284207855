"""The commands the kit sends: one valid, and one for every way a command must be refused.

Every probe uses the harmless ``snapshot`` action, so a device that wrongly accepts a
forged or replayed probe only takes a picture; the door never moves unless the user
passes ``--allow-unlock``, and even then only the one valid unlock is an unlock.

    >>> signer = CommandSigner(device_id, hub_key, DeviceClock(boot_id, 81_000, time.monotonic()))
    >>> probe = signer.valid()                                        # doctest: +SKIP
    >>> traffic.publish(probe.wire)                                   # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.base import utcnow
from protocol.codec import WireMessage, encode_signed
from protocol.commands import RejectReason, TakeSnapshot, UnlockDoor
from protocol.ids import new_message_id
from protocol.signing import SignedEnvelope, key_id, sign
from protocol.topics import TopicKind

LIFETIME_S = 20
OTHER_DEVICE = "door-conformance-other"
OTHER_BOOT = "0" * 16


@dataclass
class DeviceClock:
    """The kit's estimate of the device's monotonic clock (from status, telemetry or acks)."""

    boot_id: str
    monotonic_ms: int
    read_at: float  # kit's time.monotonic() when monotonic_ms was true

    def now_ms(self) -> int:
        return self.monotonic_ms + int((time.monotonic() - self.read_at) * 1000)


@dataclass(frozen=True)
class Probe:
    """One command sent to the device and what a conforming device answers."""

    name: str
    description: str
    wire: WireMessage
    command_id: str
    action: str
    counter: int
    expect_reasons: frozenset[RejectReason] = frozenset()  # empty: must be executed
    # A device cannot read the id of a command whose signature fails before it trusts it.
    null_id_ok: bool = False
    version: int = 1  # the command's schema version ``v``: its ack must carry the same

    @property
    def must_execute(self) -> bool:
        return not self.expect_reasons


@dataclass
class CommandSigner:
    """Builds signed probes; keeps the counter above everything the device accepted."""

    device_id: str
    hub_key: Ed25519PrivateKey
    clock: DeviceClock
    accepted_counter: int = 0
    executed_counter: int = 0  # counter of the last probe the device said it executed
    _last_used: int = field(default=0, repr=False)

    def note_accepted(self, counter: int) -> None:
        """The device said (in an ack or telemetry) it has accepted up to ``counter``."""
        self.accepted_counter = max(self.accepted_counter, counter)

    def note_executed(self, probe: Probe) -> None:
        self.executed_counter = max(self.executed_counter, probe.counter)
        self.note_accepted(probe.counter)

    def _fresh_counter(self) -> int:
        self._last_used = max(self._last_used, self.accepted_counter) + 1
        return self._last_used

    def _command(self, cls: type = TakeSnapshot, **overrides: Any) -> Any:
        now = utcnow()
        fields: dict[str, Any] = {
            "device": self.device_id,
            "id": new_message_id(),
            "counter": self._fresh_counter(),
            "issued_at": now,
            "expires_at": now + timedelta(seconds=LIFETIME_S),
            "boot_id": self.clock.boot_id,
            "not_after_monotonic_ms": self.clock.now_ms() + LIFETIME_S * 1000,
            "requested_by": "conformance-kit",
        }
        fields.update(overrides)
        return cls(**fields)

    def _wire(self, envelope: SignedEnvelope) -> WireMessage:
        return encode_signed(TopicKind.COMMAND, self.device_id, envelope)

    def _probe(
        self,
        name: str,
        description: str,
        command: Any,
        envelope: SignedEnvelope | None = None,
        expect: tuple[RejectReason, ...] = (),
        null_id_ok: bool = False,
    ) -> Probe:
        env = envelope or sign(command, self.hub_key)
        return Probe(
            name,
            description,
            self._wire(env),
            command.id,
            command.action,
            command.counter,
            frozenset(expect),
            null_id_ok,
            command.v,
        )

    # -- the probes --------------------------------------------------------------
    def valid(self, name: str = "command.valid", unlock: bool = False, v: int = 1) -> Probe:
        if unlock:
            return self._probe(name, "a valid unlock", self._command(UnlockDoor, hold_s=1.0))
        what = "a valid snapshot request" + (f" of schema version {v}" if v > 1 else "")
        return self._probe(name, what, self._command(v=v))

    def replay(self, original: Probe) -> Probe:
        """The very same bytes again."""
        return replace(
            original,
            name="command.replay",
            description="the valid command sent again byte for byte",
            expect_reasons=frozenset({RejectReason.COUNTER_REPLAYED, RejectReason.DUPLICATE_ID}),
        )

    def duplicate_id(self, original: Probe) -> Probe:
        cmd = self._command(id=original.command_id)
        return self._probe(
            "command.duplicate_id",
            "a new counter but an id already used",
            cmd,
            expect=(RejectReason.DUPLICATE_ID,),
        )

    def stale_counter(self) -> Probe:
        # The counter of the last executed probe: known to the kit even if no ack verified.
        cmd = self._command(counter=max(self.executed_counter, self.accepted_counter, 1))
        return self._probe(
            "command.stale_counter",
            f"a new id with counter {cmd.counter} (already accepted)",
            cmd,
            expect=(RejectReason.COUNTER_REPLAYED,),
        )

    def expired(self) -> Probe:
        now = utcnow()
        cmd = self._command(
            issued_at=now - timedelta(seconds=60),
            expires_at=now - timedelta(seconds=60 - LIFETIME_S),
            not_after_monotonic_ms=max(self.clock.now_ms() - 20_000, 0),
        )
        return self._probe(
            "command.expired",
            "a command whose deadline passed 20 s ago",
            cmd,
            expect=(RejectReason.EXPIRED,),
        )

    def stale_boot(self) -> Probe:
        boot = OTHER_BOOT if self.clock.boot_id != OTHER_BOOT else "1" * 16
        return self._probe(
            "command.stale_boot",
            "a command for another boot of the device",
            self._command(boot_id=boot),
            expect=(RejectReason.STALE_BOOT,),
        )

    def wrong_device(self) -> Probe:
        return self._probe(
            "command.wrong_device",
            f"a command for {OTHER_DEVICE} sent on this device's topic",
            self._command(device=OTHER_DEVICE),
            # Signed and readable, only misaddressed: the ack must name its id (the
            # protocol keeps command_id null for commands too malformed to read one).
            expect=(RejectReason.WRONG_DEVICE,),
        )

    def forged_signature(self) -> Probe:
        """The hub's key id, but a signature by some other key."""
        cmd = self._command()
        forged = sign(cmd, Ed25519PrivateKey.generate())
        env = forged.model_copy(update={"kid": key_id(self.hub_key.public_key())})
        return self._probe(
            "command.forged_signature",
            "the hub's key id with a signature by another key",
            cmd,
            env,
            expect=(RejectReason.BAD_SIGNATURE,),
            null_id_ok=True,
        )

    def unknown_key(self) -> Probe:
        cmd = self._command()
        env = sign(cmd, Ed25519PrivateKey.generate())
        return self._probe(
            "command.unknown_key",
            "a command signed by a key the device does not pin",
            cmd,
            env,
            expect=(RejectReason.UNKNOWN_KEY, RejectReason.BAD_SIGNATURE),
            null_id_ok=True,
        )
