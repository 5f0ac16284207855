"""The sequence-number rule on hand-made traffic: what a hub can live with passes,
what leaves a hole or a conflict in its store fails."""

from __future__ import annotations

from doorstep.conformance import Status
from doorstep.conformance.checks import sequence
from doorstep.conformance.traffic import Seen
from protocol import DoorClosed, DoorOpened, OutboxOverflowed, encode, new_message_id
from protocol.examples import EXAMPLE_BOOT, EXAMPLE_TIME

DEVICE = "door-1a2b3c"
HEAD = {"device": DEVICE, "boot_id": EXAMPLE_BOOT, "at": EXAMPLE_TIME, "monotonic_ms": 1}


def _seen(*events: object) -> list[Seen]:
    out = []
    for i, event in enumerate(events):
        wire = encode(event)  # type: ignore[arg-type]
        out.append(Seen(wire.topic, "event", wire.payload, wire.properties, False, float(i)))
    return out


def _opened(seq: int, id_: str | None = None) -> DoorOpened:
    return DoorOpened(id=id_ or new_message_id(), seq=seq, **HEAD)


def test_consecutive_numbers_and_redeliveries_pass():
    first = _opened(7)
    result = sequence(_seen(first, DoorClosed(id=new_message_id(), seq=8, **HEAD), first))
    assert result.status is Status.PASS, result.reason
    assert "seq 7..8" in result.reason


def test_gap_declared_by_an_outbox_overflow_passes():
    overflow = OutboxOverflowed(
        id=new_message_id(), seq=5, dropped_seqs=[3, 4], reason="bytes", **HEAD
    )
    result = sequence(_seen(_opened(2), overflow))
    assert result.status is Status.PASS, result.reason


def test_undeclared_gap_fails():
    result = sequence(_seen(_opened(2), _opened(5)))
    assert result.status is Status.FAIL
    assert result.reason.startswith("2 number(s) skipped without an outbox_overflow")


def test_going_back_and_reusing_fail():
    going_back = sequence(_seen(_opened(4), _opened(5), _opened(3)))
    assert going_back.status is Status.FAIL
    assert "seq went back from 5 to 3 (door_opened)" in going_back.reason
    reused = sequence(_seen(_opened(4), _opened(4)))
    assert reused.status is Status.FAIL
    assert "seq 4 reused by a door_opened with another id" in reused.reason


def test_one_message_is_not_enough_to_judge():
    assert sequence(_seen(_opened(1))).status is Status.NOT_CHECKED
