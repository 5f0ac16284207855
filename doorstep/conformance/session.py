"""One run of the kit against one device: its options, the results so far, and how a
probe is sent and its acknowledgement awaited.

    >>> session = Session(options, traffic)                           # doctest: +SKIP
    >>> session.probe(signer, signer.expired())   # sends, waits, records the verdict
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.commands import RejectReason
from protocol.device import Telemetry
from protocol.errors import ProtocolError
from protocol.snapshots import SNAPSHOT_META_PROPERTY

from . import acks, checks
from .probes import CommandSigner, DeviceClock, Probe
from .report import CheckResult, Status
from .traffic import BrokerTarget, Seen, Traffic


@dataclass(frozen=True)
class KitOptions:
    """What the kit needs: where the device is, and the keys of a hub it trusts."""

    target: BrokerTarget
    device_id: str
    hub_key: Ed25519PrivateKey  # signs the probes; the device must pin its public half
    device_key: Ed25519PublicKey  # verifies the device's acknowledgements
    ack_timeout_s: float = 5.0
    settle_s: float = 2.0  # how long to wait for retained status and state
    listen_s: float = 0.0  # extra time to watch events (e.g. someone rings the bell)
    allow_unlock: bool = False
    provoke_will: bool = False
    will_timeout_s: float = 15.0
    # Outbox across a broker restart (``outage``): both set, or the check is NOT CHECKED.
    broker_control: Any = None  # an ``outage.BrokerControl``: stop() and start()
    event_source: Callable[[], object] | None = None  # makes the device produce an event
    outage_s: float = 3.0  # how long the broker stays down after the events
    outage_events: int = 3  # events provoked while the broker is down
    restart_timeout_s: float = 30.0  # for the device (and the kit) to come back

    @property
    def restarts_broker(self) -> bool:
        return self.broker_control is not None and self.event_source is not None


@dataclass
class Session:
    options: KitOptions
    traffic: Traffic
    results: dict[str, CheckResult] = field(default_factory=dict)
    requested: set[str] = field(default_factory=set)  # executed snapshot requests
    refused: set[str] = field(default_factory=set)  # probes a device must not act on

    def put(self, result: CheckResult) -> CheckResult:
        self.results[result.name] = result
        return result

    def note(self, name: str, status: Status, reason: str) -> None:
        self.put(CheckResult(name=name, status=status, reason=reason))

    def skip(self, name: str, why: str) -> None:
        self.note(name, Status.NOT_CHECKED, why)

    def read_acks(self, seen: list[Seen]) -> list[acks.AckReading]:
        return acks.read_acks(seen, self.options.device_key, self.options.device_id)

    # -- probes ------------------------------------------------------------------
    def send(self, signer: CommandSigner, probe: Probe) -> acks.AckReading | None:
        """Publish one probe and wait for its ack; learn counter and clock from a good one."""
        start = len(self.traffic.snapshot())

        def answered(seen: list[Seen]) -> bool:
            # Cheap while waiting: the claimed id only, signatures are checked after.
            return any(
                m.kind == "cmd/ack"
                # a nameless ack too: judged (and failed, if the id was readable) at once
                and acks.claimed_command_id(m) in (probe.command_id, None)
                for m in seen[start:]
            )

        self.traffic.publish(probe.wire)
        seen = self.traffic.wait(answered, self.options.ack_timeout_s)
        reading = acks.match_ack(probe, self.read_acks(seen[start:]))
        if reading is not None and reading.ack is not None:
            ack = reading.ack
            signer.note_accepted(ack.counter)
            if ack.boot_id == signer.clock.boot_id:
                signer.clock = DeviceClock(ack.boot_id, ack.monotonic_ms, reading.at)
        return reading

    def probe(self, signer: CommandSigner, probe: Probe) -> acks.AckReading | None:
        reading = self.send(signer, probe)
        self.put(acks.acknowledgement(probe, reading, self.options.ack_timeout_s))
        if not probe.must_execute:
            self.refused.add(probe.command_id)
        return reading

    def _send_valid(
        self, signer: CommandSigner, name: str, unlock: bool = False, v: int = 1
    ) -> tuple[Probe, acks.AckReading | None]:
        """Send a valid command; retry once if the kit's counter or clock guess was off."""
        retry_on = (RejectReason.COUNTER_REPLAYED, RejectReason.EXPIRED)
        for _attempt in range(2):
            probe = signer.valid(name, unlock=unlock, v=v)
            reading = self.send(signer, probe)
            ack = reading.ack if reading else None
            if ack is None or ack.reason not in retry_on:
                break
        return probe, reading

    def valid(self, signer: CommandSigner, name: str, unlock: bool = False) -> Probe | None:
        probe, reading = self._send_valid(signer, name, unlock)
        self.put(acks.acknowledgement(probe, reading, self.options.ack_timeout_s))
        # An ack that fails its own check but says "executed" counts too: the probes that
        # build on it still tell the user something (and fail on that ack's problem).
        if reading is None or not reading.claims_executed:
            return None
        signer.note_executed(probe)
        if probe.action == "snapshot":
            self.requested.add(probe.command_id)
        return probe

    def version_two(self, signer: CommandSigner) -> None:
        """A valid v2 snapshot request: a v2 device executes it and answers in v2; a device
        that speaks only v1 refuses it (``unsupported``) in v1. Both conform."""
        probe, reading = self._send_valid(signer, "command.v2", v=2)
        reported = reported_version(self.traffic.snapshot())
        self.put(acks.version_two(probe, reading, self.options.ack_timeout_s, reported))
        if reading is not None and reading.claims_executed:
            signer.note_executed(probe)
            self.requested.add(probe.command_id)
        else:
            self.refused.add(probe.command_id)

    def wait_for_snapshots(self) -> None:
        """Give the device time to publish a snapshot for every executed request."""
        if self.requested:
            self.traffic.wait(
                lambda s: answered_ids(s) >= self.requested, self.options.ack_timeout_s
            )


def reported_version(seen: list[Seen]) -> int | None:
    """``protocol_version`` of the newest telemetry that decodes, if it is a number."""
    for m in reversed(seen):
        if m.kind != "telemetry":
            continue
        try:
            telemetry = checks.decoded(m)
        except ProtocolError:
            continue
        if isinstance(telemetry, Telemetry):
            text = telemetry.protocol_version
            return int(text) if text.isdigit() else None
    return None


def answered_ids(seen: list[Seen]) -> set[str]:
    """Command ids that the snapshots seen so far say they answer."""
    out = set()
    for m in seen:
        if m.kind == "snapshot":
            meta = dict(m.properties.user_properties).get(SNAPSHOT_META_PROPERTY, "")
            cid = checks.loose_json(meta).get("command_id")
            if isinstance(cid, str):
                out.add(cid)
    return out
