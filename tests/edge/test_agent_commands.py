"""Unlock commands: a valid one moves the lock and re-locks it; every bad one
leaves the lock pin untouched and is answered with a signed rejection."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import (
    AckOutcome,
    LockChanged,
    LockState,
    RejectReason,
    SetPrivacy,
    Snapshot,
    TakeSnapshot,
    new_device_id,
    sign,
)
from protocol.signing import SignedEnvelope


def test_valid_unlock_energises_relay_then_relocks(rig):
    command = rig.command(hold_s=0.3, v=2)  # v2: its answer may say when the door re-locks
    rig.send(command)
    ack = rig.wait_acks(1)[0]  # open_ack verified the device's signature
    assert ack.command_id == command.id
    assert ack.outcome is AckOutcome.EXECUTED
    assert ack.lock is LockState.RELEASED
    assert ack.relock_in_s == 0.3, "the answer says when the door re-locks by itself"
    changes = rig.board.relay_changes
    assert [energised for _, energised in changes][:1] == [True]
    deadline = time.monotonic() + 3
    while rig.board.relay_energised and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not rig.board.relay_energised, "the lock must re-lock by itself"
    held = rig.board.relay_changes[1][0] - rig.board.relay_changes[0][0]
    assert 0.25 <= held <= 1.0
    states = rig.view.wait(
        lambda ms: (
            [m.state for m in ms if isinstance(m, LockChanged)][-1:] == [LockState.ENGAGED]
            and len(ms) > 3
        )
    )
    lock_events = [(m.state, m.cause.value) for m in states if isinstance(m, LockChanged)]
    assert lock_events[-2:] == [
        (LockState.RELEASED, "command"),
        (LockState.ENGAGED, "relock_timer"),
    ]


def _expect_rejection(rig, reason: RejectReason) -> None:
    acks = rig.wait_acks(1)
    assert len(acks) == 1, "every rejection is answered"
    assert acks[0].outcome is AckOutcome.REJECTED
    assert acks[0].reason is reason, acks[0].detail
    assert acks[0].lock is LockState.ENGAGED
    time.sleep(0.05)
    assert rig.board.relay_changes == [], "a rejected command must never touch the lock pin"


def test_expired_command_is_refused(rig):
    rig.send(rig.command(not_after_monotonic_ms=max(0, rig.agent.clock.monotonic_ms() - 1)))
    _expect_rejection(rig, RejectReason.EXPIRED)


def test_command_for_an_earlier_boot_is_refused(rig):
    rig.send(rig.command(boot_id="0" * 16))
    _expect_rejection(rig, RejectReason.STALE_BOOT)


def test_forged_command_signed_by_another_key_is_refused(rig):
    rig.send(rig.command(), key=Ed25519PrivateKey.generate())
    _expect_rejection(rig, RejectReason.UNKNOWN_KEY)


def test_bad_signature_with_the_right_key_id_is_refused(rig):
    good = sign(rig.command(), rig.hub_key)
    other = sign(rig.command(), Ed25519PrivateKey.generate())
    forged = SignedEnvelope(kid=good.kid, payload=good.payload, sig=other.sig)
    rig.send_raw(forged.model_dump_json().encode())
    _expect_rejection(rig, RejectReason.BAD_SIGNATURE)


def test_modified_command_is_refused(rig):
    good = sign(rig.command(hold_s=1), rig.hub_key)
    tampered = good.model_copy(
        update={"payload": good.payload.replace('"hold_s":1.0', '"hold_s":30.0')}
    )
    assert tampered.payload != good.payload
    rig.send_raw(tampered.model_dump_json().encode())
    _expect_rejection(rig, RejectReason.BAD_SIGNATURE)


def test_command_for_another_device_is_refused(rig):
    command = rig.command(device=new_device_id())
    rig.send(command, device=rig.device_id)
    _expect_rejection(rig, RejectReason.WRONG_DEVICE)
    # signed and readable, only misaddressed: the ack names it (null is for unreadable ids)
    assert rig.acks()[0].command_id == command.id


def test_malformed_command_is_answered(rig):
    rig.send_raw(b"{not json")
    _expect_rejection(rig, RejectReason.MALFORMED)


def test_replayed_and_out_of_order_commands_are_refused(rig):
    first = rig.command(counter=10, hold_s=0.2)
    older = rig.command(counter=9)
    rig.send(first)
    rig.wait_acks(1)
    rig.send(first)  # replay of the same signed command
    rig.send(older)  # a lower counter that was never used
    acks = rig.wait_acks(3)
    assert [a.outcome for a in acks] == [
        AckOutcome.EXECUTED,
        AckOutcome.REJECTED,
        AckOutcome.REJECTED,
    ]
    assert acks[1].reason is RejectReason.COUNTER_REPLAYED
    assert acks[2].reason is RejectReason.COUNTER_REPLAYED
    time.sleep(0.4)
    # Exactly one release and one re-lock: the replay moved nothing.
    assert [e for _, e in rig.board.relay_changes] == [True, False]


def test_snapshot_on_request_and_privacy_switch(rig):
    rig.send(rig.command(TakeSnapshot))
    rig.view.wait(lambda ms: any(isinstance(m, Snapshot) for m in ms))
    assert rig.view.of(Snapshot)[0].meta.reason == "request"
    rig.send(rig.command(SetPrivacy, privacy=True))
    rig.send(rig.command(TakeSnapshot))
    acks = rig.wait_acks(3)
    assert acks[-1].outcome is AckOutcome.REJECTED
    assert acks[-1].reason is RejectReason.PRIVACY
    rig.board.ring()
    time.sleep(0.2)
    assert len(rig.view.of(Snapshot)) == 1, "no picture while the privacy switch is on"


def test_jammed_lock_is_reported_and_door_stays_locked(rig):
    rig.board.jam_lock()
    rig.agent.lock.jam_timeout_s = 0.2
    rig.send(rig.command())
    ack = rig.wait_acks(1)[0]
    assert ack.outcome is AckOutcome.FAILED
    assert ack.reason is RejectReason.HARDWARE_FAULT
    assert ack.lock is LockState.JAMMED
    assert ack.relock_in_s is None
    assert not rig.board.relay_energised, "after a jam the relay is let go (locked)"
    assert rig.board.indicator.current.value == "fault"
