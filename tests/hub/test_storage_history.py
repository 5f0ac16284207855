"""A home's door history, newest first, page by page: every event exactly once,
however the pages fall across devices and late arrivals."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from hub.storage import Database, store_event
from hub.storage.history import HistoryCursor, history_page
from tests.fixtures.database import T0, add_device, ring


def _walk(db: Database, devices: list[str], limit: int, after_seq: int = 0) -> list[list]:
    """Every page, following the cursors, as lists of (device, seq)."""
    pages, cursor = [], None
    while True:
        with db.read_session() as s:
            page = history_page(s, devices, limit=limit, cursor=cursor, after_seq=after_seq)
            pages.append([(e.device_id, e.seq) for e in page.events])
        if page.next_cursor is None:
            return pages
        # The cursor goes through a URL: it must survive its text form.
        cursor = HistoryCursor.decode(page.next_cursor.encode())
        assert len(pages) < 100, "the pages never end"


def _store(db: Database, device: str, seq: int, minute: float) -> None:
    with db.session() as s:
        store_event(s, ring(device, seq), received_at=T0 + timedelta(minutes=minute))


def test_one_door_pages_newest_first_with_nothing_twice(database: Database) -> None:
    _home, door = add_device(database)
    for seq in range(1, 26):
        _store(database, door, seq, seq)
    pages = _walk(database, [door], limit=10)
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [seq for p in pages for _d, seq in p] == list(range(25, 0, -1))


def test_an_exact_multiple_has_no_empty_last_page(database: Database) -> None:
    _home, door = add_device(database)
    for seq in range(1, 21):
        _store(database, door, seq, seq)
    assert [len(p) for p in _walk(database, [door], limit=10)] == [10, 10]


@pytest.mark.parametrize("limit", [1, 3, 7, 50])
def test_two_doors_interleaved_each_event_once_in_time_order(
    database: Database, limit: int
) -> None:
    _home, front = add_device(database)
    _home2, back = add_device(database)
    rng = random.Random(limit)
    minute, seqs = 0.0, {front: 0, back: 0}
    for _ in range(30):
        door = rng.choice([front, back])
        seqs[door] += 1
        minute += rng.uniform(0.1, 2)
        _store(database, door, seqs[door], minute)
    shown = [e for p in _walk(database, [front, back], limit) for e in p]
    expected = {(front, s) for s in range(1, seqs[front] + 1)}
    expected |= {(back, s) for s in range(1, seqs[back] + 1)}
    assert len(shown) == len(expected), "an event shown twice"
    assert set(shown) == expected
    for door in (front, back):  # each door's own order: newest first
        own = [s for d, s in shown if d == door]
        assert own == sorted(own, reverse=True)
    with database.read_session() as s:
        received = {
            (e.device_id, e.seq): e.received_at
            for e in history_page(s, [front, back], limit=100).events
        }
    times = [received[e] for e in shown]
    assert times == sorted(times, reverse=True), "the doors' events interleave by time"


def test_a_late_arrival_is_shown_once_in_its_door_s_order(database: Database) -> None:
    # Seq 3 was in the door's outbox while the link was down: it arrives last.
    _home, door = add_device(database)
    for seq, minute in [(1, 1), (2, 2), (4, 4), (5, 5), (3, 9)]:
        _store(database, door, seq, minute)
    pages = _walk(database, [door], limit=2)
    assert [seq for p in pages for _d, seq in p] == [5, 4, 3, 2, 1]


def test_after_seq_keeps_only_the_newer_part(database: Database) -> None:
    _home, door = add_device(database)
    for seq in range(1, 13):
        _store(database, door, seq, seq)
    pages = _walk(database, [door], limit=5, after_seq=4)
    assert [seq for p in pages for _d, seq in p] == list(range(12, 4, -1))


def test_a_home_without_events_has_one_empty_page(database: Database) -> None:
    _home, door = add_device(database)
    assert _walk(database, [door], limit=10) == [[]]
    assert _walk(database, [], limit=10) == [[]]


@pytest.mark.parametrize("text", ["door-1", "door-1:", ":5", "door-1:-4", "door-1:x", "a:1:b"])
def test_a_cursor_it_did_not_write_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="not a history cursor"):
        HistoryCursor.decode(text)


def test_the_cursor_round_trips() -> None:
    cursor = HistoryCursor({"door-b": 7, "door-a": 12})
    assert cursor.encode() == "door-a:12,door-b:7"
    assert HistoryCursor.decode(cursor.encode()) == cursor
