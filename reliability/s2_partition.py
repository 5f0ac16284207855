"""Network partitions between a door and the broker, healed again.

The door (``doorstep edge --simulate``) reaches Mosquitto only through reliability/proxy.py,
which black-holes the link for a while; the door keeps producing events throughout. After
healing, every event must be stored, in the door's order; the figures also say how much
the door's outbox held and how long the backlog took to arrive.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time

from .figures import Figure, at_most, info
from .proxy import Proxy
from .rig import Rig, wait_for

TITLE = "Partition between door and broker, then healed"
SHORT = "one 4 s partition"
FULL = "partitions of 60 s and 120 s"
RATE_PER_S = 10  # door events a second, all the time


def _stream(edge: object, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        edge.post("/door/open" if i % 2 == 0 else "/door/close")  # type: ignore[attr-defined]
        i += 1
        time.sleep(1 / RATE_PER_S)


def run(full: bool) -> list[Figure]:
    partitions = [60.0, 120.0] if full else [4.0]
    with Rig.start() as rig, Proxy((rig.broker.host, rig.broker.port)) as proxy:
        device = rig.devices[0]
        edge = rig.edge(device, port=proxy.port).start()
        wait_for(lambda: rig.online_boot(device) is not None, 20, "the hub did not see the door")
        stop = threading.Event()
        streamer = threading.Thread(target=_stream, args=(edge, stop), daemon=True)
        streamer.start()
        depth, catch_up = 0, 0.0
        try:
            for seconds in partitions:
                time.sleep(1.0)
                proxy.partition()
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    depth = max(depth, int(edge.state()["outbox_depth"]))
                    time.sleep(0.5)
                proxy.heal()
                healed = time.monotonic()
                last = edge.state()["last_seq"]
                wait_for(lambda last=last: rig.stored_through(device) >= last, 300, "no catch-up")
                catch_up = max(catch_up, time.monotonic() - healed)
            time.sleep(1.0)
        finally:
            stop.set()
            streamer.join(10)
        last = edge.state()["last_seq"]
        with contextlib.suppress(TimeoutError):  # counted as missing below
            wait_for(lambda: rig.stored_through(device) >= last, 120, "not all stored", step=0.2)
        rows = rig.stored_events(device)
    seqs = [r.seq for r in rows]
    missing = len(set(range(1, last + 1)) - set(seqs))
    out_of_order = sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    return [
        info("longest partition", max(partitions), "s"),
        info("events numbered by the door", last),
        at_most("events missing after healing", missing, 0),
        at_most("events stored out of the door's order", out_of_order, 0),
        info("most events held in the door's outbox", depth),
        at_most("slowest catch-up after healing", round(catch_up, 2), 90, "s"),
    ]
