"""The outbox keeps every message until the hub says it is stored, and drops
snapshots before events when it must."""

from __future__ import annotations

import time

import pytest

from edge.clock import AgentClock
from edge.errors import OutboxError
from edge.messages import MessageFactory
from edge.outbox import Outbox
from protocol import DoorOpened, decode, encode
from protocol.examples import EXAMPLE_JPEG


@pytest.fixture
def make(tmp_path):
    return MessageFactory("door-abc123", AgentClock(synced=lambda: False))


def add_event(box: Outbox, make: MessageFactory) -> int:
    return box.append(lambda seq: encode(make.event(DoorOpened, seq)), "event")


def add_snapshot(box: Outbox, make: MessageFactory) -> int:
    return box.append(
        lambda seq: encode(
            make.snapshot(
                EXAMPLE_JPEG,
                seq,
                snapshot_id=f"00000000-0000-4000-8000-{seq:012d}",
                width=1,
                height=1,
                reason="ring",
            )
        ),
        "snapshot",
    )


def test_sequence_numbers_increase_and_survive_reopen(tmp_path, make):
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    assert [add_event(box, make) for _ in range(3)] == [1, 2, 3]
    box.close()
    box = Outbox(path)
    assert add_event(box, make) == 4
    assert [p.seq for p in box.pending()] == [1, 2, 3, 4]


def test_pending_messages_decode_to_what_was_stored(tmp_path, make):
    box = Outbox(tmp_path / "o.sqlite")
    add_event(box, make)
    add_snapshot(box, make)
    first, second = box.pending()
    assert decode(first.wire.topic, first.wire.payload).message.seq == 1
    snap = decode(second.wire.topic, second.wire.payload, second.wire.properties).message
    assert snap.meta.seq == 2
    assert snap.jpeg == EXAMPLE_JPEG


def test_prune_deletes_only_what_the_hub_stored(tmp_path, make):
    box = Outbox(tmp_path / "o.sqlite")
    for _ in range(5):
        add_event(box, make)
    assert box.prune_through(3) == 3
    assert [p.seq for p in box.pending()] == [4, 5]
    assert box.stored_through == 3
    box.prune_through(2)  # an older sync arriving late must not move the mark back
    assert box.stored_through == 3


def test_bytes_bound_drops_snapshots_before_events(tmp_path, make):
    box = Outbox(tmp_path / "o.sqlite", max_bytes=1)
    e1 = add_event(box, make)
    s1 = add_snapshot(box, make)
    e2 = add_event(box, make)
    drops = box.enforce_bounds()
    dropped = [s for d in drops for s in d.seqs]
    assert dropped[0] == s1, "the snapshot must go first"
    assert set(dropped) == {e1, s1, e2} - {p.seq for p in box.pending()}
    assert box.dropped_total == len(dropped)


def test_snapshots_alone_are_dropped_when_that_is_enough(tmp_path, make):
    box = Outbox(tmp_path / "o.sqlite")
    e1 = add_event(box, make)
    add_snapshot(box, make)
    e2 = add_event(box, make)
    _, held = box.stats()
    box.max_bytes = held - 1  # one snapshot removed is enough
    drops = box.enforce_bounds()
    assert [d.reason for d in drops] == ["bytes"]
    assert [p.seq for p in box.pending()] == [e1, e2]


def test_age_bound(tmp_path, make):
    box = Outbox(tmp_path / "o.sqlite", max_age_s=60)
    add_event(box, make)
    drops = box.enforce_bounds(now=time.time() + 120)
    assert drops[0].reason == "age"
    assert drops[0].seqs == [1]
    assert box.pending() == []


class _Clocks:
    """A Pi's wall clock (settable) and monotonic clock (only runs)."""

    def __init__(self, wall: float) -> None:
        self.mono, self.offset = 1000.0, wall - 1000.0

    def wall(self) -> float:
        return self.mono + self.offset


def test_events_recorded_before_the_clock_was_set_are_not_dropped_as_old(tmp_path, make):
    # Booted on a time three weeks old (no real-time clock), hub unreachable: events wait.
    real = time.time()
    clocks = _Clocks(wall=real - 21 * 86400)
    box = Outbox(tmp_path / "o.sqlite", wall=clocks.wall, monotonic=lambda: clocks.mono)
    waiting = [add_event(box, make) for _ in range(3)]
    clocks.mono += 30
    clocks.offset += 21 * 86400  # NTP sets the clock
    assert box.enforce_bounds() == []
    assert [p.seq for p in box.pending()] == waiting
    # They still age from when they really happened: 14 days on, they go.
    clocks.mono += 15 * 86400
    (drop,) = box.enforce_bounds()
    assert (drop.reason, drop.seqs) == ("age", waiting)


def test_a_slow_drift_is_not_taken_for_a_clock_step(tmp_path, make):
    clocks = _Clocks(wall=time.time())
    box = Outbox(
        tmp_path / "o.sqlite", max_age_s=100, wall=clocks.wall, monotonic=lambda: clocks.mono
    )
    add_event(box, make)
    clocks.mono += 90
    clocks.offset += 20  # drift or a small correction: not a step, rows are not moved
    (drop,) = box.enforce_bounds()
    assert drop.reason == "age"


def test_command_counter_and_ids_are_durable(tmp_path):
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    assert box.accept_command("a", 5) == "ok"
    assert box.accept_command("b", 5) == "counter"
    assert box.accept_command("a", 6) == "duplicate"
    box.close()
    box = Outbox(path)
    assert box.accept_command("c", 4) == "counter"
    assert box.accept_command("c", 7) == "ok"


def test_integrity_check_and_clear_error_on_unusable_path(tmp_path):
    box = Outbox(tmp_path / "o.sqlite")
    assert box.integrity_ok()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutboxError, match="cannot open outbox"):
        Outbox(blocker / "sub" / "o.sqlite")


def test_checkpoints_happen_only_when_asked_and_keep_everything(tmp_path, make):
    box = Outbox(tmp_path / "outbox.sqlite")
    wal = tmp_path / "outbox.sqlite-wal"
    for _ in range(600):  # far past SQLite's automatic checkpoint (at 1000 pages)
        add_snapshot(box, make)
        add_event(box, make)
    # No checkpoint ran inside a commit: the WAL holds every page written so far.
    grown = wal.stat().st_size
    assert grown > 2000 * 4096
    assert box.checkpoint() == 0
    for _ in range(10):
        add_event(box, make)
    assert wal.stat().st_size == grown, "after a checkpoint the WAL is reused, not grown"
    box.close()
    reopened = Outbox(tmp_path / "outbox.sqlite")
    assert reopened.stats()[0] == 1210
    assert [p.seq for p in reopened.pending(0, 2000)] == list(range(1, 1211))
    assert reopened.integrity_ok()
