"""Hub crashes between signing an unlock and hearing the door's acknowledgement.

The door is the real edge agent on the simulated board; the hub runs in this process, and a
fault-injection hook stops it dead at one of four points: after signing but before
publishing, after publishing but before recording it as sent, after recording it (the ack
not yet back), and while storing the ack (before the commit). A crash here is what a killed
process leaves: no timers, no goodbye on MQTT (the socket is cut), the ingest queue lost with
its already-acknowledged messages. A new hub is then built on the same database and the same
persistent MQTT session. The relay tells what the door really did; the database tells what
people would be told.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from typing import Any

from hub.service import Hub
from hub.storage.commands import get_command

from .figures import Figure, at_most, info
from .rig import Rig, device_agent, wait_for

TITLE = "Hub killed between signing an unlock and receiving its acknowledgement"
SHORT = "16 crashes"
FULL = "1,000 crashes"
POINTS = ("before publish", "after publish", "after recorded as sent", "while storing the ack")


class Crash(BaseException):
    """The process ends here: a BaseException, so no ``except Exception`` in the hub stops it."""


def _arm(hub: Hub, point: str) -> None:
    """Put the crash at ``point`` (the last one is set off by the test after request())."""
    link = hub.commands.link
    real_publish = link.publish
    if point == "before publish":

        def publish(wire: Any) -> Any:
            if "/cmd" in wire.topic:
                raise Crash
            return real_publish(wire)

        link.publish = publish  # type: ignore[method-assign]
    elif point == "after publish":

        def publish(wire: Any) -> Any:
            info = real_publish(wire)
            if "/cmd" in wire.topic:
                info.wait_for_publish(2)
                raise Crash
            return info

        link.publish = publish  # type: ignore[method-assign]
    elif point == "while storing the ack":

        def on_ack(*_args: Any) -> None:
            raise Crash  # inside ingest's transaction: it is rolled back, the worker dies

        hub.ingest.on_ack = on_ack


def crash(hub: Hub) -> None:
    """Leave what a killed process leaves: cut the socket, stop every thread, drop queues."""
    hub.commands.stop()  # its timers die with the process
    client = hub.link._client  # fault injection: the transport is ours to break
    client._thread_terminate = True  # no reconnect attempt (or its wait) once the socket is cut
    with contextlib.suppress(OSError, AttributeError):
        client.socket().shutdown(socket.SHUT_RDWR)
    client.loop_stop()
    with contextlib.suppress(queue.Empty):
        while True:
            hub.ingest._queue.get_nowait()  # received, PUBACKed, never stored
    hub.ingest._queue.put(None)
    hub.ingest._worker.join(5)
    # Whatever else the hub runs (health, jobs, workers added later) stops in the background:
    # those threads idle in timed waits and hold nothing a new hub needs.
    hub.health._stop.set()
    hub.jobs._stop.set()
    threading.Thread(target=_reap, args=(hub,), daemon=True).start()


def _reap(hub: Hub) -> None:
    with contextlib.suppress(Exception):
        hub.stop()


def run(full: bool) -> list[Figure]:
    trials = 1000 if full else 16
    quiet = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not Crash:  # the planned crash ends its thread silently
            quiet(args)

    threading.excepthook = hook
    try:
        return _run(trials)
    finally:
        threading.excepthook = quiet


def _run(trials: int) -> list[Figure]:
    with Rig.start(hub=False, command_timeout_s=1.0) as rig:
        device = rig.devices[0]
        hub = rig.start_hub()
        agent, board = device_agent(rig, device)
        wait_for(lambda: rig.online_boot(device) is not None, 20, "the hub did not see the door")
        results: list[tuple[str, str, int]] = []  # (point, final status, releases)
        try:
            for t in range(trials):
                point = POINTS[t % len(POINTS)]
                _arm(hub, point)
                before = len(board.relay_changes)
                command = None
                with contextlib.suppress(Crash):
                    command = hub.commands.request(
                        device, "unlock", person_id=rig.person, reason="chaos"
                    ).id
                crash(hub)
                # The door finishes whatever it was doing while no hub runs.
                time.sleep(0.08)
                wait_for(lambda: agent.lock.state.value == "engaged", 5, "door did not re-lock")
                hub = rig.start_hub()
                if command is None:  # crashed inside request(): find the command it made
                    command = _newest_command(rig)
                # Give the new hub what the broker kept for it (the ack, queued meanwhile).
                deadline = time.monotonic() + 0.3
                while time.monotonic() < deadline and _status(rig, command) in {
                    "requested",
                    "sent",
                }:
                    time.sleep(0.01)
                releases = sum(1 for _t, on in board.relay_changes[before:] if on)
                results.append((point, _status(rig, command), releases))
        finally:
            hub.stop()
            agent.stop()
            board.close()
    double = sum(1 for _p, _s, n in results if n > 1)
    false_unlocked = sum(1 for _p, s, n in results if s == "acknowledged" and n == 0)
    false_failed = sum(1 for _p, s, n in results if s in {"failed", "rejected"} and n > 0)
    opened = sum(1 for _p, _s, n in results if n > 0)
    left_open = sum(1 for _p, s, _n in results if s in {"requested", "sent"})
    return [
        info("hub crashes", len(results), f"({len(POINTS)} crash points in turn)"),
        at_most("double unlocks (relay released twice)", double, 0),
        at_most("false 'unlocked' (acknowledged, relay never moved)", false_unlocked, 0),
        at_most("false 'failed' (door opened, hub says failed)", false_failed, 0),
        info("commands the door executed", opened),
        info("commands left 'requested'/'sent' after the restart", left_open),
    ]


def _status(rig: Rig, command: str) -> str:
    with rig.db.read_session() as s:
        return str(get_command(s, command).status.value)


def _newest_command(rig: Rig) -> str:
    from sqlalchemy import select

    from hub.storage.models_commands import Command

    with rig.db.read_session() as s:
        row = s.execute(select(Command).order_by(Command.created_at.desc()).limit(1)).scalar_one()
        return str(row.id)
