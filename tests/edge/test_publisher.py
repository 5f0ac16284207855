"""The outbox publisher against a real broker: a backlog goes out whole and in order,
in slices (paho keeps unsent messages in memory), and a flush from the ring's thread
never overtakes the backlog."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from edge.outbox import Outbox
from edge.publisher import OutboxPublisher
from protocol.codec import WireMessage, WireProperties
from protocol.ids import new_device_id
from protocol.topics import PREFIX

BINARY = WireProperties(content_type="application/octet-stream")


def _fill(outbox: Outbox, device: str, count: int, size: int) -> None:
    def build(seq: int) -> WireMessage:
        # The sequence number leads the payload, so the subscriber can tell the order.
        payload = seq.to_bytes(4, "big") + bytes(size - 4)
        return WireMessage(f"{PREFIX}/{device}/snapshot/x", payload, 1, False, BINARY)

    outbox.append_many([(build, "snapshot")] * count)


def test_backlog_goes_out_whole_and_in_order_in_slices(link_factory):
    device = new_device_id()
    outbox = Outbox(Path(tempfile.mkdtemp(prefix="doorstep-pub-")) / "outbox.sqlite")
    _fill(outbox, device, 120, 20_000)  # 2.4 MB waiting, as after an outage
    got: list[int] = []
    done = threading.Event()

    def receive(_topic: str, payload: bytes, _props: object) -> None:
        got.append(int.from_bytes(payload[:4], "big"))
        if len(got) >= 125:
            done.set()

    hub = link_factory()
    hub.subscribe(f"{PREFIX}/{device}/snapshot/+", receive)
    assert hub.wait_subscribed()
    link = link_factory()
    publisher = OutboxPublisher(outbox, link, max_queued_bytes=100_000)
    waits: list[int] = []
    wait_sent = publisher._wait_sent

    def counting_wait(info):  # the real wait, counted: the backlog must go out in slices
        waits.append(1)
        wait_sent(info)

    publisher._wait_sent = counting_wait  # type: ignore[method-assign]
    publisher.start()
    try:
        publisher.reconnected()
        _fill(outbox, device, 5, 1_000)  # a ring during the backlog: sent after it
        publisher.flush()
        assert done.wait(20), f"only {len(got)} of 125 arrived"
    finally:
        publisher.stop()
    assert got == list(range(1, 126))
    assert len(waits) >= 120 * 20_000 // 100_000 - 1
