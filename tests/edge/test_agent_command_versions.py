"""The edge agent answers every command in the command's schema version.

A hub that sent v1 gets a v1 answer (without ``relock_in_s``, which a v1 hub would
refuse); a hub that sent v2 gets v2. When the version cannot be read or trusted (a bad
signature, an unsupported version), the answer is v1, which every hub speaks. The agent
tells the hub in its telemetry that it speaks v2.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import AckOutcome, RejectReason, TakeSnapshot, Telemetry, sign
from protocol.codec import encode_signed
from protocol.signing import SignedEnvelope, key_id, open_ack
from protocol.topics import TopicKind
from tests.edge.rig import Rig


def answers(rig: Rig, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """The signed acks as they travelled: the exact JSON text the device signed, parsed."""
    deadline = time.monotonic() + timeout
    while len(rig.view.of(SignedEnvelope)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    envelopes = rig.view.of(SignedEnvelope)
    for env in envelopes:  # each one verifies with the device key and is a valid ack
        open_ack(env, rig.device_key.public_key(), rig.device_id)
    return [json.loads(env.payload) for env in envelopes]


def send_json(rig: Rig, data: dict[str, Any]) -> None:
    """Sign any JSON object with the hub key, as a newer hub would."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    sig = base64.urlsafe_b64encode(rig.hub_key.sign(text.encode())).rstrip(b"=").decode()
    env = SignedEnvelope(kid=key_id(rig.hub_key.public_key()), payload=text, sig=sig)
    rig.hub.publish(encode_signed(TopicKind.COMMAND, rig.device_id, env)).wait_for_publish(5)


def test_a_v1_unlock_is_answered_in_v1_without_relock_in_s(rig):
    command = rig.command(hold_s=0.3)
    assert command.v == 1
    rig.send(command)
    (ack,) = answers(rig, 1)
    assert ack["v"] == 1
    assert ack["outcome"] == AckOutcome.EXECUTED.value
    assert "relock_in_s" not in ack, "a v1 hub refuses a field it does not know"


def test_a_v2_unlock_is_answered_in_v2_with_relock_in_s(rig):
    rig.send(rig.command(hold_s=0.3, v=2))
    (ack,) = answers(rig, 1)
    assert ack["v"] == 2
    assert ack["outcome"] == AckOutcome.EXECUTED.value
    assert ack["relock_in_s"] == 0.3


@pytest.mark.parametrize("v", [1, 2])
def test_other_commands_and_refusals_keep_the_commands_version(rig, v):
    rig.send(rig.command(TakeSnapshot, v=v))  # executed
    rig.send(rig.command(v=v, boot_id="0" * 16))  # stale boot: readable, refused
    rig.send(rig.command(TakeSnapshot, v=v, device="door-someone-else"))  # wrong device
    acks = answers(rig, 3)
    assert [(a["outcome"], a["reason"]) for a in acks] == [
        ("executed", None),
        ("rejected", RejectReason.STALE_BOOT.value),
        ("rejected", RejectReason.WRONG_DEVICE.value),
    ]
    assert [a["v"] for a in acks] == [v, v, v]
    assert all(a["command_id"] for a in acks)
    # Only a v2 answer carries the field, and it is null for anything but an unlock.
    assert all(("relock_in_s" in a) == (v == 2) for a in acks)
    assert all(a.get("relock_in_s") is None for a in acks)


def test_an_unreadable_or_untrusted_version_is_answered_in_v1(rig):
    forged = sign(rig.command(v=2), Ed25519PrivateKey.generate())  # a key it does not pin
    rig.hub.publish(encode_signed(TopicKind.COMMAND, rig.device_id, forged)).wait_for_publish(5)
    newer = rig.command(v=2).model_dump(mode="json") | {"v": 3}
    send_json(rig, newer)
    acks = answers(rig, 2)
    assert [(a["v"], a["reason"]) for a in acks] == [
        (1, RejectReason.UNKNOWN_KEY.value),
        (1, RejectReason.UNSUPPORTED.value),
    ]
    assert "v=3" in acks[1]["detail"]
    assert rig.board.relay_changes == [], "nothing it refused moved the lock"


def test_telemetry_says_the_agent_speaks_v2(rig):
    rig.agent.telemetry.send_now()
    got = rig.view.wait(lambda ms: any(isinstance(m, Telemetry) for m in ms))
    telemetry = next(m for m in got if isinstance(m, Telemetry))
    assert telemetry.protocol_version == "2"
