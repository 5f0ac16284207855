"""The running hub's periodic jobs and lock alerts, end to end.

* snapshot retention runs on its own in the hub, and every purge is audited;
* audit checkpoints go off the hub, retained, to each door's checkpoint topic, and
  a late one raises ``audit_checkpoint_overdue``;
* a failed re-lock raises ``relock_failed`` (door may be unlocked), distinct from a
  lock that jammed on a commanded release (``lock_jammed``) — with a real edge agent
  on a simulated board whose bolt sticks.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from hub.audit import entries, open_checkpoint, stored_checkpoints, verify_session
from hub.storage import AlertKind, get_snapshot, open_alerts
from hub.storage.audit_rows import latest_checkpoint, read_audit_head
from protocol import encode, utcnow
from protocol.audit import AuditCheckpoint
from protocol.device import LockState
from protocol.events import LockCause, LockChanged
from protocol.examples import example_snapshot
from protocol.topics import TopicKind, device_filter
from tests.fixtures.broker import DecodedMessages
from tests.hubrt.rig import HubRig


def _alerts(rig: HubRig, device: str | None = None) -> set[str]:
    with rig.db.read_session() as s:
        return {a.kind.value for a in open_alerts(s, device_id=device)}


def test_retention_runs_in_the_hub_and_is_audited(database, plain_broker):
    rig = HubRig(database, plain_broker, retention_interval_s=0.2, retention_days=30).start()
    try:
        device = rig.add_device()
        snapshot = example_snapshot(device, seq=1)
        rig.device_link(device, will=False).publish(encode(snapshot))

        def stored():
            with database.read_session() as s:
                return get_snapshot(s, snapshot.meta.id)

        assert rig.wait_until(lambda: stored() is not None)
        sha = stored().sha256
        rig.clock.advance_to(timedelta(days=29).total_seconds())
        assert not rig.wait_until(lambda: stored() is None, timeout=1), "kept for 30 days"
        rig.clock.advance_to(timedelta(days=31).total_seconds())
        assert rig.wait_until(lambda: stored() is None), "the hub's own job purged it"
        # The file goes right after the row's transaction commits.
        assert rig.wait_until(lambda: not rig.hub.files.exists(sha))
        with database.read_session() as s:
            purged = [e for e in entries(s) if e.action == "snapshots_purged"]
            assert verify_session(s, stored_checkpoints(s), rig.signer.public_key()).ok
        assert len(purged) == 1
        assert purged[0].details == {"rows_deleted": 1, "default_days": 30, "live_view_s": 3600}
        assert purged[0].actor == "service:retention"
    finally:
        rig.stop()


def _checkpoints(rig: HubRig, device: str) -> DecodedMessages:
    got = DecodedMessages()
    link = rig.device_link(device, will=False)
    link.subscribe(device_filter(TopicKind.CHECKPOINT, device), got)
    assert link.wait_subscribed()
    return got


def test_checkpoints_are_sent_to_every_door_retained_and_verify(database, plain_broker):
    rig = HubRig(database, plain_broker, checkpoint_interval_s=300)
    doors = [rig.add_device(), rig.add_device()]
    rig.start()
    try:
        assert rig.wait_until(lambda: rig.hub.checkpoints.published >= 2)
        # Subscribing afterwards still gets it: the broker retains the newest per door.
        for door in doors:
            got = _checkpoints(rig, door)
            [message] = got.wait(lambda m: len(m) >= 1)
            assert isinstance(message, AuditCheckpoint)
            assert message.device == door
            statement = open_checkpoint(message.checkpoint, [rig.signer.public_key()])
            with database.read_session() as s:
                assert (statement.seq, statement.hash) == read_audit_head(s)
                assert latest_checkpoint(s).envelope == message.checkpoint.model_dump_json()
        # Not due again yet: nothing new is signed or sent.
        assert rig.hub.checkpoints.run() is None
    finally:
        rig.stop()


def test_a_late_checkpoint_raises_overdue_until_one_is_signed(database, plain_broker):
    rig = HubRig(
        database,
        plain_broker,
        health_interval_s=3600,
        checkpoint_interval_s=300,
        checkpoint_overdue_s=900,
    ).start()
    try:

        def signed_at():
            with database.read_session() as s:
                latest = latest_checkpoint(s)
                return None if latest is None else latest.signed_at

        assert rig.wait_until(lambda: signed_at() is not None), "the job signs one at start"
        rig.hub.health.check()
        assert "audit_checkpoint_overdue" not in _alerts(rig)
        # The job stalls (it is not run) while 1,000 s pass.
        rig.clock.advance_to(1000)
        rig.hub.health.check()
        assert "audit_checkpoint_overdue" in _alerts(rig)
        assert rig.hub.checkpoints.run() is not None
        rig.hub.health.check()
        assert "audit_checkpoint_overdue" not in _alerts(rig)
    finally:
        rig.stop()


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker).start()
    yield r
    r.stop()


def test_a_failed_relock_raises_relock_failed_not_lock_jammed(rig):
    device = rig.add_device()
    got = _checkpoints(rig, device)
    agent, board = rig.agent(device, hold_s=0.5, jam_timeout_s=0.3)
    rig.wait_online(device)
    before = len(got.messages)
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family, reason="carer")
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    board.jam_lock()  # the bolt sticks open: the re-lock after hold_s fails
    assert rig.wait_until(lambda: AlertKind.RELOCK_FAILED.value in _alerts(rig, device))
    assert AlertKind.LOCK_JAMMED.value not in _alerts(rig, device)
    # The unlock was followed by a checkpoint, sent to this door, which keeps a copy.
    newest = got.wait(lambda m: len(m) > before)[-1]
    assert newest.device == device
    kept = newest.checkpoint.model_dump_json()
    assert rig.wait_until(lambda: agent.outbox.get_state("audit_checkpoint") == kept)


def test_a_jam_on_a_commanded_release_is_lock_jammed(rig):
    device = rig.add_device()
    _agent, board = rig.agent(device, jam_timeout_s=0.3)
    rig.wait_online(device)
    board.jam_lock()  # stuck locked: the release never happens
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family, reason="carer")
    rig.hub.commands.wait(ticket.id, timeout=5)
    assert rig.wait_until(lambda: AlertKind.LOCK_JAMMED.value in _alerts(rig, device))
    assert AlertKind.RELOCK_FAILED.value not in _alerts(rig, device)


def test_relock_failed_resolves_when_the_lock_reports_engaged(rig):
    device = rig.add_device()
    link = rig.device_link(device, will=False)
    head = {"device": device, "boot_id": "ab" * 8, "at": utcnow(), "monotonic_ms": 1}
    jammed = LockChanged(
        id=str(uuid.uuid4()), seq=1, state=LockState.JAMMED, cause=LockCause.FAULT, **head
    )
    link.publish(encode(jammed))
    assert rig.wait_until(lambda: AlertKind.RELOCK_FAILED.value in _alerts(rig, device))
    with rig.db.read_session() as s:
        [alert] = open_alerts(s, device_id=device)
    assert alert.details == {"cause": "fault", "door": "unknown"}
    engaged = LockChanged(
        id=str(uuid.uuid4()), seq=2, state=LockState.ENGAGED, cause=LockCause.MANUAL, **head
    )
    link.publish(encode(engaged))
    assert rig.wait_until(lambda: _alerts(rig, device) == set())
