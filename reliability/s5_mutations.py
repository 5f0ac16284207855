"""Mutated signed commands (hypothesis) through a device's real verifier, ``edge.CommandGuard``.

Every case starts from a command the guard *would* accept (right device, this boot, within
its deadline, a fresh counter, signed with the pinned hub key), then changes it: a field of
the signed payload (re-signed by another key, or not re-signed), a character of the
envelope, a bit on the wire, the key id, the spare bits of the signature. A case whose
envelope is unchanged after parsing (e.g. a flipped bit in whitespace) is skipped: it *is*
the original. None may be accepted; the guard may only answer with a verdict.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from edge.clock import AgentClock
from edge.command_guard import CommandGuard
from edge.outbox import Outbox
from protocol import TopicKind, encode_signed, new_device_id, new_message_id, sign, utcnow
from protocol.commands import SetPrivacy, StartLiveView, TakeSnapshot, UnlockDoor
from protocol.signing import SignedEnvelope

from .figures import Figure, at_most, info

# Mutations per hypothesis example: its engine costs more than a check, so it draws several.
BATCH = 10
log = logging.getLogger(__name__)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
    st.text(max_size=40), st.sampled_from(["unlock", "door-0000000000", "", "0" * 16]),
)  # fmt: skip


class Tally:
    def __init__(self) -> None:
        self.checked = self.accepted = self.crashes = self.same = 0
        self.first_problem = ""


def _originals(device: str, clock: AgentClock, now_ms: int) -> list[dict[str, object]]:
    now = utcnow()
    head = {
        "device": device,
        "issued_at": now,
        "expires_at": now + timedelta(seconds=20),
        "boot_id": clock.boot_id,
        "not_after_monotonic_ms": now_ms + 20_000,
        "requested_by": "person-42",
    }
    commands = [
        UnlockDoor(id=new_message_id(), counter=10**9, hold_s=5, **head),
        TakeSnapshot(id=new_message_id(), counter=10**9 + 1, **head),
        StartLiveView(
            id=new_message_id(), counter=10**9 + 2, duration_s=60, interval_ms=500, **head
        ),
        SetPrivacy(id=new_message_id(), counter=10**9 + 3, privacy=False, **head),
    ]
    return [c.model_dump(mode="json") for c in commands]


def _envelope(model: dict[str, object], key: Ed25519PrivateKey) -> SignedEnvelope:
    cls = {"unlock": UnlockDoor, "snapshot": TakeSnapshot, "live_view": StartLiveView,
           "set_privacy": SetPrivacy}[str(model["action"])]  # fmt: skip
    return sign(cls.model_validate(model), key)


@st.composite
def _mutation(draw: st.DrawFn, originals: list[bytes], payloads: list[dict], keys: tuple) -> tuple:
    which = draw(st.integers(0, len(originals) - 1))
    original = originals[which]
    data = json.loads(original)
    how = draw(st.sampled_from(["payload-field", "envelope-char", "wire-bit", "kid", "spare-bits"]))
    if how == "payload-field":
        inner = dict(payloads[which])
        field = draw(st.sampled_from(sorted(inner)))
        inner[field] = draw(FIELD_VALUES)
        text = json.dumps(inner, separators=(",", ":"), sort_keys=True)
        if draw(st.booleans()):  # signed again, by a key the door does not pin
            try:
                env = _envelope(inner, keys[1])
                return original, encode_signed(TopicKind.COMMAND, inner_device(inner), env).payload
            except (ValidationError, ValueError, KeyError, TypeError):
                pass  # not a valid command any more: keep the old signature on it instead
        data["payload"] = text
        return original, json.dumps(data).encode()
    if how == "envelope-char":
        field = draw(st.sampled_from(["payload", "sig", "kid"]))
        text = data[field]
        at = draw(st.integers(0, len(text) - 1))
        data[field] = text[:at] + draw(st.sampled_from(B64URL) | st.characters()) + text[at + 1 :]
        return original, json.dumps(data).encode()
    if how == "kid":
        data["kid"] = draw(st.text(max_size=20))
        return original, json.dumps(data).encode()
    if how == "spare-bits":
        last = B64URL.index(data["sig"][-1]) ^ draw(st.integers(1, 15))
        data["sig"] = data["sig"][:-1] + B64URL[last]
        return original, json.dumps(data).encode()
    wire = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(wire) - 1))
        wire[at] ^= 1 << draw(st.integers(0, 7))
    return original, bytes(wire)


def inner_device(inner: dict[str, object]) -> str:
    device = inner.get("device")
    return device if isinstance(device, str) else "door-0000000000"


def _same(original: bytes, mutated: bytes) -> bool:
    try:
        return SignedEnvelope.model_validate_json(mutated) == SignedEnvelope.model_validate_json(
            original
        )
    except ValidationError:
        return False


def _one(guard: CommandGuard, tally: Tally, original: bytes, mutated: bytes) -> None:
    if _same(original, mutated):
        tally.same += 1
        return
    tally.checked += 1
    try:
        verdict = guard.check(mutated)
    except Exception as exc:  # the door's worker would log it and go on; still a bug
        tally.crashes += 1
        tally.first_problem = tally.first_problem or f"{exc!r} on {mutated[:200]!r}"
        return
    if verdict.command is not None:
        tally.accepted += 1
        tally.first_problem = tally.first_problem or f"accepted {mutated[:300]!r}"


def mutated_commands(examples: int) -> list[Figure]:
    hub_key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    device = new_device_id()
    frozen = time.monotonic_ns()
    clock = AgentClock(monotonic_ns=lambda: frozen, synced=lambda: False)
    with tempfile.TemporaryDirectory(prefix="doorstep-mutations-") as root:
        outbox = Outbox(Path(root) / "outbox.sqlite")
        guard = CommandGuard(device, hub_key.public_key(), clock, outbox)
        payloads = _originals(device, clock, clock.monotonic_ms())
        envelopes = [_envelope(p, hub_key) for p in payloads]
        originals = [encode_signed(TopicKind.COMMAND, device, e).payload for e in envelopes]
        inner = [json.loads(e.payload) for e in envelopes]
        tally = Tally()

        @settings(
            max_examples=max(1, examples // BATCH),
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            cases=st.lists(
                _mutation(originals, inner, (hub_key, stranger)), min_size=BATCH, max_size=BATCH
            )
        )
        def check(cases: list[tuple[bytes, bytes]]) -> None:
            for original, mutated in cases:
                _one(guard, tally, original, mutated)

        check()
        # The baseline: the unmutated originals are accepted (so the refusals above mean it).
        baseline = sum(guard.check(o).command is not None for o in originals)
        outbox.close()
    if tally.first_problem:
        log.error("first mutated-command problem: %s", tally.first_problem)
    return [
        info("mutated commands checked (unchanged ones skipped)", tally.checked),
        at_most("mutated commands accepted", tally.accepted, 0),
        at_most("verifier crashes on mutated commands", tally.crashes, 0),
        at_most("unmutated originals refused (baseline)", len(originals) - baseline, 0),
    ]
