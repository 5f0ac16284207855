"""Live view: a signed command asks for a stream of pictures for a limited time.

Real broker, simulated board: the pictures arrive at the requested pace with reason
"live_view", stop by themselves after the duration or on ``stop_live_view``, are
refused while the privacy switch is on, and a second live view replaces the first.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from protocol import (
    AckOutcome,
    LockChanged,
    RejectReason,
    SetPrivacy,
    Snapshot,
    StartLiveView,
    StopLiveView,
)
from tests.edge.rig import Rig


@pytest.fixture
def rig(plain_broker):
    r = Rig(plain_broker, Path(tempfile.mkdtemp(prefix="doorstep-edge-live-"))).start()
    r.view.wait(lambda ms: any(isinstance(m, LockChanged) for m in ms))
    yield r
    r.stop()


def live_frames(rig: Rig, command_id: str | None = None) -> list[Snapshot]:
    return [
        s
        for s in rig.view.of(Snapshot)
        if s.meta.reason == "live_view" and command_id in (None, s.meta.command_id)
    ]


def wait_frames(rig: Rig, count: int, command_id: str | None = None, timeout: float = 5.0):
    rig.view.wait(lambda _ms: len(live_frames(rig, command_id)) >= count, timeout)
    return live_frames(rig, command_id)


def ack_for(rig: Rig, command_id: str, timeout: float = 5.0):
    rig.view.wait(lambda _ms: any(a.command_id == command_id for a in rig.acks()), timeout=timeout)
    acks = [a for a in rig.acks() if a.command_id == command_id]
    assert acks, f"no acknowledgement for {command_id}"
    return acks[0]


def no_more_frames(rig: Rig, count: int, wait_s: float) -> list[Snapshot]:
    """Wait up to ``wait_s`` for a frame beyond ``count``: there should be none."""
    rig.view.wait(lambda _ms: len(live_frames(rig)) > count, timeout=wait_s)
    return live_frames(rig)


def test_pictures_come_at_the_requested_pace_and_stop_by_themselves(rig):
    command = rig.command(StartLiveView, duration_s=1, interval_ms=200)
    rig.send(command)
    ack = ack_for(rig, command.id)
    assert ack.outcome is AckOutcome.EXECUTED
    frames = wait_frames(rig, 5)
    # 1 s at one picture per 200 ms: one at once, then four more; then it stops.
    frames = no_more_frames(rig, 5, wait_s=0.8)
    assert len(frames) == 5
    assert all(f.meta.command_id == command.id for f in frames)
    assert all(f.jpeg[:2] == b"\xff\xd8" and f.meta.width == 640 for f in frames)
    assert len({f.meta.id for f in frames}) == 5
    # On the device's clock: never faster than asked. Picture i is due 200 x i ms after
    # the start, which lies a few ms before the acknowledgement was stamped.
    stamps = [f.meta.monotonic_ms for f in frames]
    assert stamps == sorted(stamps)
    for i, stamp in enumerate(stamps):
        assert stamp >= ack.monotonic_ms + 200 * i - 20, (i, stamps, ack.monotonic_ms)
    seqs = [f.meta.seq for f in frames]
    assert seqs == sorted(seqs), "live pictures go through the outbox in order"


def test_stop_live_view_ends_the_stream(rig):
    start = rig.command(StartLiveView, duration_s=60, interval_ms=100)
    rig.send(start)
    wait_frames(rig, 2)
    stop = rig.command(StopLiveView)
    rig.send(stop)
    stop_ack = ack_for(rig, stop.id)
    assert stop_ack.outcome is AckOutcome.EXECUTED
    count = len(live_frames(rig))
    frames = no_more_frames(rig, count, wait_s=0.6)
    assert len(frames) == count, "no picture after stop_live_view"
    assert all(f.meta.monotonic_ms <= stop_ack.monotonic_ms for f in frames)


def test_privacy_switch_refuses_live_view(rig):
    rig.send(rig.command(SetPrivacy, privacy=True))
    command = rig.command(StartLiveView, duration_s=1, interval_ms=100)
    rig.send(command)
    ack = ack_for(rig, command.id)
    assert ack.outcome is AckOutcome.REJECTED
    assert ack.reason is RejectReason.PRIVACY
    assert no_more_frames(rig, 0, wait_s=0.4) == []


def test_privacy_switch_stops_a_running_live_view(rig):
    rig.send(rig.command(StartLiveView, duration_s=60, interval_ms=100))
    wait_frames(rig, 1)
    privacy = rig.command(SetPrivacy, privacy=True)
    rig.send(privacy)
    privacy_ack = ack_for(rig, privacy.id)
    count = len(live_frames(rig))
    frames = no_more_frames(rig, count, wait_s=0.5)
    assert len(frames) == count
    assert all(f.meta.monotonic_ms <= privacy_ack.monotonic_ms for f in frames)


def test_second_live_view_replaces_the_first(rig):
    first = rig.command(StartLiveView, duration_s=60, interval_ms=200)
    rig.send(first)
    wait_frames(rig, 2, first.id)
    second = rig.command(StartLiveView, duration_s=1, interval_ms=200)
    rig.send(second)
    second_ack = ack_for(rig, second.id)
    assert second_ack.outcome is AckOutcome.EXECUTED
    wait_frames(rig, 5, second.id)
    frames = no_more_frames(rig, len(live_frames(rig)), wait_s=0.8)
    firsts = [f for f in frames if f.meta.command_id == first.id]
    seconds = [f for f in frames if f.meta.command_id == second.id]
    assert len(firsts) + len(seconds) == len(frames)
    # One stream, not two: the second live view's five pictures, and none of the first
    # (which had 60 s to go) once the second was accepted.
    assert len(seconds) == 5
    assert all(f.meta.monotonic_ms <= second_ack.monotonic_ms for f in firsts)
    assert all(f.meta.monotonic_ms >= second_ack.monotonic_ms for f in seconds)
