"""Storing events: idempotent by (device, seq), conflicts kept, gaps and the watermark."""

from __future__ import annotations

import random
import threading
import uuid

from sqlalchemy import func, select

from hub.storage import (
    Database,
    GapStatus,
    StoreOutcome,
    conflicts_of,
    events_of,
    gaps,
    store_event,
    store_events,
    stored_through,
)
from hub.storage.models import Event
from protocol.events import OutboxOverflowed
from protocol.examples import EXAMPLE_BOOT
from tests.fixtures.database import T0, ring, run_threads


def _store(db: Database, event):
    with db.session() as s:
        return store_event(s, event, received_at=T0)


def _count(db: Database, device: str) -> int:
    with db.read_session() as s:
        return s.execute(select(func.count()).where(Event.device_id == device)).scalar_one()


def test_in_order_events_advance_the_watermark(database: Database, device_id: str) -> None:
    for seq in range(1, 6):
        result = _store(database, ring(device_id, seq))
        assert result.outcome is StoreOutcome.INSERTED
        assert result.stored_through == seq
        assert result.new_gap is None
    with database.read_session() as s:
        stored = events_of(s, device_id)
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert stored[0].kind == "ring"
    assert stored[0].payload["seq"] == 1
    assert stored[0].device_time == T0


def test_redelivery_is_a_harmless_duplicate(database: Database, device_id: str) -> None:
    event = ring(device_id, 1)
    assert _store(database, event).outcome is StoreOutcome.INSERTED
    again = _store(database, event)
    assert again.outcome is StoreOutcome.DUPLICATE
    assert again.stored_through == 1
    assert _count(database, device_id) == 1


def test_same_seq_with_another_id_is_kept_as_a_conflict(database, device_id) -> None:
    first = ring(device_id, 1)
    _store(database, first)
    other = ring(device_id, 1)
    result = _store(database, other)
    assert result.outcome is StoreOutcome.CONFLICT
    assert _store(database, other).outcome is StoreOutcome.CONFLICT  # repeat: still one row
    with database.read_session() as s:
        stored = events_of(s, device_id)
        conflicts = conflicts_of(s, device_id)
    assert [e.event_id for e in stored] == [first.id]
    assert [(c.seq, c.event_id, c.stored_event_id) for c in conflicts] == [(1, other.id, first.id)]


def test_out_of_order_records_a_gap_until_it_fills(database, device_id) -> None:
    _store(database, ring(device_id, 1))
    _store(database, ring(device_id, 2))
    late = _store(database, ring(device_id, 5))
    assert late.new_gap == (3, 4)
    assert late.stored_through == 2
    with database.read_session() as s:
        assert [(g.from_seq, g.to_seq, g.status) for g in gaps(s, device_id)] == [
            (3, 4, GapStatus.OPEN)
        ]
    assert _store(database, ring(device_id, 4)).stored_through == 2
    assert _store(database, ring(device_id, 3)).stored_through == 5
    with database.read_session() as s:
        assert [(g.from_seq, g.to_seq, g.status) for g in gaps(s, device_id)] == [
            (3, 4, GapStatus.RESOLVED)
        ]


def test_a_later_gap_can_fill_while_an_earlier_one_holds_the_watermark(database, device_id) -> None:
    for seq in (1, 3, 6):
        _store(database, ring(device_id, seq))
    with database.read_session() as s:
        assert [(g.from_seq, g.to_seq) for g in gaps(s, device_id)] == [(2, 2), (4, 5)]
    _store(database, ring(device_id, 5))
    _store(database, ring(device_id, 4))
    with database.read_session() as s:
        status = {(g.from_seq, g.to_seq): g.status for g in gaps(s, device_id)}
        assert stored_through(s, device_id) == 1
    assert status == {(2, 2): GapStatus.OPEN, (4, 5): GapStatus.RESOLVED}


def test_outbox_overflow_abandons_seqs_and_unblocks_the_watermark(database, device_id) -> None:
    for seq in (1, 2, 5):
        _store(database, ring(device_id, seq))
    overflow = OutboxOverflowed(
        device=device_id,
        id=str(uuid.uuid4()),
        seq=6,
        boot_id=EXAMPLE_BOOT,
        at=T0,
        monotonic_ms=9,
        dropped_seqs=[3, 4],
        reason="bytes",
    )
    assert _store(database, overflow).stored_through == 6
    with database.read_session() as s:
        assert [(g.from_seq, g.to_seq, g.status) for g in gaps(s, device_id)] == [
            (3, 4, GapStatus.ABANDONED)
        ]
    # Abandoned seqs are not events: only what arrived is stored.
    assert _count(database, device_id) == 4


def test_shuffled_redelivery_stores_each_seq_once(database, device_id) -> None:
    events = [ring(device_id, seq) for seq in range(1, 61)]
    deliveries = events + random.Random(7).sample(events, 30)
    random.Random(11).shuffle(deliveries)
    outcomes = [_store(database, e).outcome for e in deliveries]
    assert outcomes.count(StoreOutcome.INSERTED) == 60
    assert outcomes.count(StoreOutcome.DUPLICATE) == 30
    assert _count(database, device_id) == 60
    with database.read_session() as s:
        assert stored_through(s, device_id) == 60
        assert all(g.status is GapStatus.RESOLVED for g in gaps(s, device_id))


def test_concurrent_hubs_storing_the_same_event_never_fail(database, device_id) -> None:
    # Separate Database objects: separate pools, like separate hub processes.
    hubs = [Database(database.url) for _ in range(4)]
    events = [ring(device_id, seq) for seq in range(1, 41)]
    outcomes: list[StoreOutcome] = []
    lock = threading.Lock()

    def deliver(i: int) -> None:
        for event in events:
            result = _store(hubs[i], event)
            with lock:
                outcomes.append(result.outcome)

    errors = run_threads(deliver, len(hubs))
    for hub in hubs:
        hub.dispose()
    assert errors == []
    assert outcomes.count(StoreOutcome.INSERTED) == 40
    assert outcomes.count(StoreOutcome.DUPLICATE) == 3 * 40
    assert _count(database, device_id) == 40
    with database.session() as s:
        assert stored_through(s, device_id) == 40


def test_concurrent_hubs_sharing_a_stream_leave_no_hole(database, device_id) -> None:
    hubs = [Database(database.url) for _ in range(3)]
    events = [ring(device_id, seq) for seq in range(1, 91)]

    def deliver(i: int) -> None:
        for event in events[i :: len(hubs)]:  # like a shared subscription's round robin
            _store(hubs[i], event)

    errors = run_threads(deliver, len(hubs))
    for hub in hubs:
        hub.dispose()
    assert errors == []
    with database.session() as s:
        assert stored_through(s, device_id) == 90
    assert _count(database, device_id) == 90


def test_a_batch_stores_like_one_by_one(database: Database) -> None:
    from tests.fixtures.database import add_device

    _, a = add_device(database)
    _, b = add_device(database)
    first = ring(a, 1)
    batch = [first, ring(a, 2), ring(b, 1), ring(a, 5), first, ring(a, 2), ring(b, 2)]
    with database.session() as s:
        results = store_events(s, batch, received_at=T0)
    assert [r.outcome for r in results] == [
        StoreOutcome.INSERTED,
        StoreOutcome.INSERTED,
        StoreOutcome.INSERTED,
        StoreOutcome.INSERTED,
        StoreOutcome.DUPLICATE,  # the same event twice in one batch
        StoreOutcome.CONFLICT,  # seq 2 again, another id
        StoreOutcome.INSERTED,
    ]
    assert [r.stored_through for r in results] == [2, 2, 2, 2, 2, 2, 2]
    assert [r.new_gap for r in results] == [None, None, None, (3, 4), None, None, None]
    with database.session() as s:
        later = store_events(s, [ring(a, 4), ring(a, 3), ring(b, 3)], received_at=T0)
        assert [(r.device, r.stored_through) for r in later] == [(a, 5), (a, 5), (b, 3)]
        assert [(g.from_seq, g.to_seq, g.status) for g in gaps(s, a)] == [
            (3, 4, GapStatus.RESOLVED)
        ]
        assert len(conflicts_of(s, a)) == 1


def test_concurrent_overlapping_batches_neither_deadlock_nor_double(database) -> None:
    from tests.fixtures.database import add_device

    devices = [add_device(database)[1] for _ in range(2)]
    events = [ring(d, seq) for seq in range(1, 101) for d in devices]
    hubs = [Database(database.url) for _ in range(3)]

    def deliver(i: int) -> None:
        mine = list(events)
        random.Random(i).shuffle(mine)  # every hub sees everything, each in its own order
        for start in range(0, len(mine), 25):
            with hubs[i].session() as s:
                store_events(s, mine[start : start + 25], received_at=T0)

    errors = run_threads(deliver, len(hubs))
    for hub in hubs:
        hub.dispose()
    assert errors == []
    with database.session() as s:
        assert [stored_through(s, d) for d in devices] == [100, 100]
    assert [_count(database, d) for d in devices] == [100, 100]
