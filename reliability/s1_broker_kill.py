"""Broker crashes: ``kill -9`` Mosquitto again and again while a door streams events.

The door is ``doorstep edge --simulate`` (its door opened and closed through the simulator's
control port, one event each); the hub runs here on SQLite. Each kill is followed, after a
random outage of 0.1-1.5 s, by a restart on the same port from the same persistence files;
the next crash waits until everything the door had numbered by the restart is stored (the
recovery time). At the end every event the door numbered must be stored exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time

from .figures import Figure, at_most, info
from .rig import Rig, wait_for

log = logging.getLogger(__name__)

TITLE = "Broker killed (kill -9) while a door streams events"
SHORT = "300 events, 3 kills"
FULL = "10,000 events, 50 kills"


CYCLE_S = 4.0  # the stream lasts about this long per crash: each crash meets a live stream


def _stream(
    edge: object, events: int, posted: list[int], stop: threading.Event, rate: float
) -> None:
    start = time.monotonic()
    for i in range(events):
        if stop.is_set():
            return
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        edge.post("/door/open" if i % 2 == 0 else "/door/close")  # type: ignore[attr-defined]
        posted[0] = i + 1


def run(full: bool) -> list[Figure]:
    return measure(*((10_000, 50) if full else (300, 3)))


def measure(events: int, kills: int) -> list[Figure]:
    rng = random.Random(1)
    with Rig.start() as rig:
        device = rig.devices[0]
        edge = rig.edge(device).start()
        wait_for(lambda: rig.online_boot(device) is not None, 20, "the hub did not see the door")
        posted = [0]
        stop = threading.Event()
        streamer = threading.Thread(
            target=_stream,
            args=(edge, events, posted, stop, events / (CYCLE_S * (kills + 1))),
            daemon=True,
        )
        streamer.start()
        recoveries: list[float] = []
        try:
            for k in range(kills):
                # Spread the kills over the stream: wait until the door has numbered its next
                # share (the posts run ahead of the door's durable writes).
                due = events * (k + 1) // (kills + 1)
                wait_for(lambda due=due: edge.state()["last_seq"] >= due, 600, "stream stalled")
                rig.broker.kill()
                time.sleep(rng.uniform(0.1, 1.5))
                rig.restart_broker()
                up = time.monotonic()
                before = int(edge.state()["last_seq"])  # numbered up to now, outage included
                # Recovered once everything numbered until the restart is stored; only then
                # the next crash, so each one is measured on its own.
                with contextlib.suppress(TimeoutError):
                    wait_for(lambda b=before: rig.stored_through(device) >= b, 120, "", step=0.05)
                recoveries.append(time.monotonic() - up)
                log.info(
                    "crash %d: numbered %d, stored %d, recovered in %.2f s",
                    k,
                    before,
                    rig.stored_through(device),
                    recoveries[-1],
                )
            streamer.join(1200)
        finally:
            stop.set()
        # Everything numbered by the door must reach the hub's storage.
        wait_for(lambda: edge.state()["last_seq"] > 0, 10, "no events")
        last = edge.state()["last_seq"]
        with contextlib.suppress(TimeoutError):  # counted as lost below
            wait_for(lambda: rig.stored_through(device) >= last, 300, "not all stored", step=0.2)
        rows = rig.stored_events(device)
    seqs = [r.seq for r in rows]
    lost = len(set(range(1, last + 1)) - set(seqs))
    duplicated = (len(seqs) - len(set(seqs))) + (len(rows) - len({r.event_id for r in rows}))
    delays = sorted((r.received_at - r.device_time).total_seconds() for r in rows)
    worst = delays[-1] if delays else 0.0
    return [
        info("broker kills", kills),
        info("events numbered by the door", last),
        at_most("events lost", lost, 0),
        at_most("events duplicated in storage", duplicated, 0),
        at_most(
            "worst recovery after a crash (backlog stored)",
            round(max(recoveries), 2),
            60,
            "s",
        ),
        info(
            "median recovery after a crash", round(sorted(recoveries)[len(recoveries) // 2], 2), "s"
        ),
        info("worst delivery delay of an event (door -> stored)", round(worst, 2), "s"),
        info("median delivery delay", round(delays[len(delays) // 2], 3) if delays else 0, "s"),
    ]
