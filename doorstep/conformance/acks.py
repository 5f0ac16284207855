"""Judging acknowledgements: is there one for each probe, does it verify with the device's
key, and does it say what a conforming device must say?

    >>> readings = read_acks(seen, device_public_key, "door-1a2b3c")     # doctest: +SKIP
    >>> acknowledgement(probe, match_ack(probe, readings), timeout=5.0)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from protocol.commands import AckOutcome, CommandAck, RejectReason
from protocol.errors import ProtocolError
from protocol.signing import SignedEnvelope, open_ack

from .checks import loose_json, summarise
from .probes import Probe
from .report import CheckResult, Status
from .traffic import Seen


def _result(name: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(name=name, status=status, reason=reason)


@dataclass(frozen=True, slots=True)
class AckReading:
    """One message on cmd/ack: what it says it answers and whether it verifies."""

    command_id: str | None
    ack: CommandAck | None  # set only when the signature verified and the ack is valid
    error: str | None
    at: float
    claimed_outcome: str | None = None  # what it says, verified or not

    @property
    def claims_executed(self) -> bool:
        return self.claimed_outcome == AckOutcome.EXECUTED.value


def _claims(m: Seen) -> dict[str, Any]:
    raw = loose_json(m.payload)
    return loose_json(raw["payload"]) if isinstance(raw.get("payload"), str) else raw


def claimed_command_id(m: Seen) -> str | None:
    """The command id an ack claims to answer, read without trusting it."""
    cid = _claims(m).get("command_id")
    return cid if isinstance(cid, str) else None


def read_ack(m: Seen, device_key: Ed25519PublicKey, device_id: str) -> AckReading:
    command_id = claimed_command_id(m)
    outcome = _claims(m).get("outcome")
    claimed = outcome if isinstance(outcome, str) else None
    try:
        envelope = SignedEnvelope.model_validate_json(m.payload, strict=True)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"]
        error = f"acknowledgement is not a signed envelope ({why})"
        return AckReading(command_id, None, error, m.at, claimed)
    try:
        ack = open_ack(envelope, device_key, device_id)
    except ProtocolError as exc:
        return AckReading(command_id, None, f"acknowledgement refused: {exc}", m.at, claimed)
    return AckReading(ack.command_id, ack, None, m.at, ack.outcome.value)


def read_acks(
    seen: Iterable[Seen], device_key: Ed25519PublicKey, device_id: str
) -> list[AckReading]:
    return [read_ack(m, device_key, device_id) for m in seen if m.kind == "cmd/ack"]


def match_ack(probe: Probe, readings: list[AckReading]) -> AckReading | None:
    """The ack naming the probe; else one naming no command (judged in ``acknowledgement``)."""
    named = [r for r in readings if r.command_id == probe.command_id]
    nameless = [r for r in readings if r.command_id is None]
    return (named or nameless or [None])[0]


def acknowledgement(probe: Probe, reading: AckReading | None, timeout: float) -> CheckResult:
    """Did the device answer ``probe`` with a verified ack of the expected outcome?"""
    expected = " or ".join(sorted(probe.expect_reasons)) or "executed"
    if reading is None:
        return _result(
            probe.name,
            Status.FAIL,
            f"{probe.description}: no acknowledgement within "
            f"{timeout:g} s (expected {expected}); a device must answer every command",
        )
    if reading.ack is None:
        return _result(probe.name, Status.FAIL, f"{probe.description}: {reading.error}")
    ack = reading.ack
    if ack.v != probe.version:
        return _result(probe.name, Status.FAIL, _wrong_version(probe, ack))
    if ack.command_id is None and not probe.null_id_ok:
        return _result(
            probe.name,
            Status.FAIL,
            f"{probe.description}: answered with command_id null, but its id "
            f"{probe.command_id} was readable: null is only for unreadable commands",
        )
    said = ack.outcome.value + (f" ({ack.reason.value})" if ack.reason else "")
    if probe.must_execute:
        if ack.outcome is AckOutcome.EXECUTED:
            return _result(probe.name, Status.PASS, f"{probe.description}: executed, ack verifies")
        if probe.action == "snapshot" and ack.reason is RejectReason.PRIVACY:
            return _result(
                probe.name,
                Status.PASS,
                f"{probe.description}: accepted, refused "
                "only because privacy mode is on; ack verifies",
            )
        return _result(
            probe.name,
            Status.FAIL,
            f"{probe.description} was answered {said}: {ack.detail or 'no detail'}",
        )
    if ack.outcome is AckOutcome.EXECUTED:
        return _result(
            probe.name,
            Status.FAIL,
            f"accepted {probe.description}: it must be rejected with {expected}",
        )
    if ack.outcome is not AckOutcome.REJECTED or ack.reason not in probe.expect_reasons:
        return _result(
            probe.name,
            Status.FAIL,
            f"{probe.description} was answered {said}, expected rejected ({expected})",
        )
    return _result(probe.name, Status.PASS, f"{probe.description}: {said}, ack verifies")


def _wrong_version(probe: Probe, ack: CommandAck) -> str:
    return (
        f"{probe.description}: a v: {probe.version} command answered with a v: {ack.v} "
        "acknowledgement; a device answers in its command's version (a hub that sent v: 1 "
        "refuses a v: 2 answer, and the command's unlock would show as unknown)"
    )


# What a device that speaks only v1 answers to a v2 command (it cannot read it).
_V1_ONLY_REASONS = frozenset({RejectReason.UNSUPPORTED, RejectReason.MALFORMED})


def version_two(
    probe: Probe, reading: AckReading | None, timeout: float, reported: int | None
) -> CheckResult:
    """A valid v2 command: executed with a v2 ack, or refused by a v1-only device in v1.

    ``reported`` is the ``protocol_version`` from the device's telemetry, if the kit saw one.
    """
    if reading is None:
        return _result(
            probe.name,
            Status.FAIL,
            f"{probe.description}: no acknowledgement within {timeout:g} s; a device must "
            "answer every command, one of a version it does not speak too (`unsupported`)",
        )
    if reading.ack is None:
        return _result(probe.name, Status.FAIL, f"{probe.description}: {reading.error}")
    ack = reading.ack
    said = ack.outcome.value + (f" ({ack.reason.value})" if ack.reason else "")
    if ack.outcome is AckOutcome.EXECUTED:
        if ack.v != probe.version:
            return _result(probe.name, Status.FAIL, _wrong_version(probe, ack))
        return _result(
            probe.name,
            Status.PASS,
            f"{probe.description}: executed, answered in v: 2; the device speaks v2",
        )
    if ack.reason in _V1_ONLY_REASONS:
        if ack.v != 1:
            return _result(
                probe.name,
                Status.FAIL,
                f"{probe.description} was refused as {said} but answered in v: {ack.v}: a "
                "device that cannot read a command answers in v: 1",
            )
        if reported is not None and reported >= probe.version:
            return _result(
                probe.name,
                Status.FAIL,
                f"its telemetry says protocol_version {reported}, but it refused "
                f"{probe.description} as {said}: report the highest version it speaks",
            )
        return _result(
            probe.name,
            Status.PASS,
            f"the device speaks v1 only: it refused {probe.description} as {said} in a "
            "v: 1 acknowledgement, as it must (a hub sends it v1 commands)",
        )
    return _result(
        probe.name,
        Status.FAIL,
        f"{probe.description} was answered {said}: expected executed (v2 device), or "
        "rejected unsupported (v1-only device)",
    )


def ack_signatures(readings: list[AckReading]) -> CheckResult:
    name = "acks.signed"
    if not readings:
        return _result(name, Status.NOT_CHECKED, "no acknowledgement seen")
    bad = [r.error for r in readings if r.error]
    if bad:
        return _result(
            name,
            Status.FAIL,
            f"{len(bad)} of {len(readings)} acknowledgements do "
            f"not verify with the device key: {summarise([b for b in bad if b])}",
        )
    return _result(
        name,
        Status.PASS,
        f"all {len(readings)} acknowledgements verify with the device key and name the device",
    )
