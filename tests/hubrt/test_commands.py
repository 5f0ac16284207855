"""Commands end to end: hub signs, a real edge agent verifies and acts, the hub
records the signed answer and audits every step."""

from __future__ import annotations

import time

import pytest

from hub.audit import entries, stored_checkpoints, verify_session
from hub.commands import DeviceUnavailable, RateLimited
from hub.policy import NotAuthorised
from hub.storage import get_command
from hub.storage.audit_rows import latest_checkpoint
from hub.storage.devices import get_device
from protocol import utcnow
from tests.hubrt.rig import HubRig


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker, unlocks_per_minute=3).start()
    yield r
    r.stop()




def _audit(rig):
    with rig.db.read_session() as s:
        return [(e.action, e.details) for e in entries(s)]


def test_unlock_acknowledged_and_audited(rig):
    device = rig.add_device()
    _agent, board = rig.agent(device)
    rig.wait_online(device)
    ticket = rig.hub.commands.request(
        device, "unlock", person_id=rig.family, reason="carer Sarah at the door"
    )
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    assert board.relay_changes[0][1] is True
    with rig.db.read_session() as s:
        command = get_command(s, ticket.id)
        assert command.ack_signature
    actions = [a for a, _ in _audit(rig)]
    assert actions[:3] == ["unlock_requested", "command_sent", "command_acknowledged"]
    signed = dict(_audit(rig))["command_acknowledged"]["signed_ack"]
    assert signed["payload"]
    assert signed["sig"]


def test_an_unlock_is_followed_by_a_checkpoint_covering_its_acknowledgement(rig):
    """Signed once the ack's transaction is committed (not inside it), sent to the door."""
    device = rig.add_device()
    _agent, _board = rig.agent(device)
    rig.wait_online(device)
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family)
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    with rig.db.read_session() as s:
        acked = next(e.seq for e in entries(s) if e.action == "command_acknowledged")

    def covered() -> bool:
        with rig.db.read_session() as s:
            latest = latest_checkpoint(s)
            return latest is not None and latest.seq >= acked

    assert rig.wait_until(covered)
    with rig.db.read_session() as s:
        assert verify_session(s, stored_checkpoints(s), rig.signer.public_key()).ok


def test_rejected_command_is_recorded_with_the_reason(rig):
    device = rig.add_device()
    _agent, board = rig.agent(device)
    rig.wait_online(device)
    with rig.db.session() as s:  # the hub believes in an older boot: the door must refuse
        get_device(s, device).boot_id = "0" * 16
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family)
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "rejected"
    with rig.db.read_session() as s:
        assert get_command(s, ticket.id).reject_reason == "stale_boot"
    assert board.relay_changes == []
    assert "command_rejected" in [a for a, _ in _audit(rig)]


def test_no_answer_means_unknown_never_failed(rig):
    device = rig.add_device()
    agent, board = rig.agent(device)
    rig.wait_online(device)
    agent.link._client.unsubscribe(f"doorstep/v1/{device}/cmd")
    time.sleep(0.2)
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family)
    assert rig.hub.commands.wait(ticket.id, timeout=6) == "unknown"
    assert board.relay_changes == []
    assert "command_timed_out" in [a for a, _ in _audit(rig)]


def test_refusals_before_anything_is_sent(rig):
    device = rig.add_device()
    with pytest.raises(DeviceUnavailable, match="nothing was sent"):
        rig.hub.commands.request(device, "unlock", person_id=rig.family)
    rig.agent(device)
    rig.wait_online(device)
    with pytest.raises(NotAuthorised):
        rig.hub.commands.request(device, "unlock", person_id=rig.telecare)
    with pytest.raises(NotAuthorised):
        rig.hub.commands.request(device, "unlock", person_id=rig.stranger)
    for _ in range(3):
        t = rig.hub.commands.request(device, "unlock", person_id=rig.family, hold_s=0.1)
        rig.hub.commands.wait(t.id, timeout=5)
    with pytest.raises(RateLimited):
        rig.hub.commands.request(device, "unlock", person_id=rig.family)


def test_commands_left_open_by_a_dead_hub_become_unknown(rig):
    """The answer timer lives in the sending process: a hub that died between sending
    and the answer leaves its commands open until the sweep closes them."""
    from datetime import timedelta

    from hub.storage import create_command, mark_sent

    device = rig.add_device()
    long_ago = rig.clock() - timedelta(minutes=5)
    with rig.db.session() as s:
        for command_id, counter, at in (("orphan-1", 1, long_ago), ("fresh-1", 2, rig.clock())):
            create_command(
                s,
                command_id=command_id,
                device_id=device,
                action="unlock",
                counter=counter,
                requested_by=rig.family,
                reason="",
                at=at,
                expires_at=at + timedelta(seconds=30),
            )
            mark_sent(s, command_id, at)
    assert rig.hub.commands.sweep_stale() == 1
    assert rig.hub.commands.sweep_stale() == 0  # nothing twice
    with rig.db.read_session() as s:
        assert get_command(s, "orphan-1").status.value == "unknown"
        assert get_command(s, "fresh-1").status.value == "sent"  # its hub may still be waiting
    timed_out = [d for a, d in _audit(rig) if a == "command_timed_out"]
    assert len(timed_out) == 1


def test_a_doors_refusal_of_a_replay_or_forgery_is_audited_and_changes_nothing(rig):
    """A refusal naming an id the hub never issued, or one already answered, is the
    door's evidence of an attack: it lands in the audit log, and the real command's
    recorded outcome stays as it was."""
    from protocol.codec import encode_signed
    from protocol.commands import AckOutcome, CommandAck, RejectReason
    from protocol.device import LockState
    from protocol.ids import new_message_id
    from protocol.signing import sign
    from protocol.topics import TopicKind

    device = rig.add_device()
    _agent, _board = rig.agent(device)
    rig.wait_online(device)
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family, hold_s=0.1)
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    link = rig.device_link(device, will=False)
    for command_id, reason in (
        (new_message_id(), RejectReason.BAD_SIGNATURE),
        (ticket.id, RejectReason.DUPLICATE_ID),
    ):
        ack = CommandAck(
            device=device,
            command_id=command_id,
            action="unlock",
            outcome=AckOutcome.REJECTED,
            reason=reason,
            lock=LockState.ENGAGED,
            counter=99,
            boot_id="cd" * 8,
            at=utcnow(),
            monotonic_ms=1,
        )
        link.publish(encode_signed(TopicKind.ACK, device, sign(ack, rig.device_keys[device])))

    def audited():
        return [d for a, d in _audit(rig) if a == "command_rejected" and "unmatched" in d]

    assert rig.wait_until(lambda: len(audited()) == 2)
    assert {d["reason"] for d in audited()} == {"bad_signature", "duplicate_id"}
    with rig.db.read_session() as s:
        assert get_command(s, ticket.id).status.value == "acknowledged"


def test_an_answer_before_the_brokers_confirmation_still_reads_requested_sent_answered(rig, mocker):
    """The door can answer before the hub has recorded the broker's PUBACK (a fast door,
    a slow hub): "sent" is then recorded from the answer, once, and before it."""
    device = rig.add_device()
    rig.agent(device)
    rig.wait_online(device)
    link = rig.hub.commands.link
    publish = link.publish

    def slow_confirmation(wire):
        info = publish(wire)
        if "/cmd" in wire.topic:
            time.sleep(0.5)  # the door verifies, unlocks and answers meanwhile
        return info

    mocker.patch.object(link, "publish", side_effect=slow_confirmation)
    sub = rig.hub.bus.subscribe()
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family, reason="test")
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    steps = ("unlock_requested", "command_sent", "command_acknowledged")
    assert [a for a, _ in _audit(rig) if a in steps] == list(steps)
    statuses = []
    while (notice := sub.get(timeout=0.3)) is not None:
        if notice.kind == "command" and notice.data["command_id"] == ticket.id:
            statuses.append(notice.data["status"])
    assert statuses[-1] == "acknowledged"  # no late "sent" after the door's answer
    with rig.db.read_session() as s:
        assert get_command(s, ticket.id).sent_at is not None
