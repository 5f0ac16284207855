"""Edge crashes: SIGKILL the door's agent at random moments, including in the middle of an unlock.

Each trial boots ``doorstep edge --simulate`` on the same outbox, reads the door's state as
the agent starts (the lock must be engaged, the relay off), does something (a stream of door
events, an unlock the hub signs, or an unlock already holding the door released), and kills
the process at a random moment. Between boots the outbox file must pass SQLite's
``PRAGMA integrity_check``. At the end every unlock the door executed (its own stored
``lock_changed`` events, and the signed acknowledgements the hub recorded) must be in the
hub's audit log.
"""

from __future__ import annotations

import http.client
import random
import sqlite3
import threading
import time

from .figures import Figure, at_least, at_most, info
from .rig import EdgeProcess, Rig, wait_for

TITLE = "Door agent killed (SIGKILL) at random moments, including mid-unlock"
SHORT = "3 kills (one per kind)"
FULL = "100 kills"


def _integrity_ok(edge: EdgeProcess) -> bool:
    db = sqlite3.connect(edge.outbox_path)  # opening it replays the WAL, as a reboot does
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def _last_seq(edge: EdgeProcess) -> int:
    db = sqlite3.connect(edge.outbox_path)
    try:
        row = db.execute("SELECT value FROM state WHERE key = 'last_seq'").fetchone()
        return int(row[0]) if row else 0
    finally:
        db.close()


def _commands(rig: Rig, action: str) -> set[str]:
    """Ids of the commands the audit log names in entries of ``action``."""
    return {
        s.split(":", 1)[1]
        for e in rig.audit(action)
        for s in e.subjects
        if s.startswith("command:")
    }


def _stream(edge: EdgeProcess, stop: threading.Event) -> None:
    i = 0
    while not stop.is_set():
        try:
            edge.post("/door/open" if i % 2 == 0 else "/door/close")
        except (OSError, http.client.HTTPException):
            return  # killed, perhaps in the middle of an answer
        i += 1


def _boot(rig: Rig, edge: EdgeProcess, device: str, previous: str | None) -> tuple[bool, str]:
    """Start the agent; (lock engaged and relay off as it starts, the hub's new boot id)."""
    edge.start(connected=False)
    first = edge.state()
    locked = first["lock_state"] == "engaged" and not first["relay_energised"]
    wait_for(lambda: edge.state()["connected"], 30, "the edge did not connect")

    def new_boot() -> bool:
        boot = rig.online_boot(device)
        return boot is not None and boot != previous

    wait_for(new_boot, 30, "the hub did not see the door's new start")
    return locked, str(rig.online_boot(device))


def run(full: bool) -> list[Figure]:
    trials = 100 if full else 3
    rng = random.Random(3)
    with Rig.start(command_timeout_s=3.0) as rig:
        device = rig.devices[0]
        edge = rig.edge(device)
        hub = rig.hub
        assert hub is not None
        locked_boots = intact = 0
        boot: str | None = None
        seen_released: set[str] = set()
        modes = {"stream": 0, "mid-unlock": 0, "while released": 0}
        for t in range(trials):
            locked, boot = _boot(rig, edge, device, boot)
            locked_boots += locked
            mode = list(modes)[t % 3]
            modes[mode] += 1
            stop = threading.Event()
            if mode == "stream":
                threading.Thread(target=_stream, args=(edge, stop), daemon=True).start()
                time.sleep(rng.uniform(0.0, 0.4))
            else:
                ticket = hub.commands.request(device, "unlock", person_id=rig.person, reason="x")
                if mode == "mid-unlock":
                    time.sleep(rng.uniform(0.0, 0.03))  # receipt, counter, relay, event, ack
                else:
                    wait_for(lambda: edge.state()["relay_energised"], 5, "no release")
                    seen_released.add(ticket.id)  # the relay moved for it: executed
                    time.sleep(rng.uniform(0.0, 0.3))
            edge.kill()
            stop.set()
            intact += _integrity_ok(edge)
        # One last boot, so everything the door wrote reaches the hub.
        locked, boot = _boot(rig, edge, device, boot)
        locked_boots += locked
        last = _last_seq(edge)
        wait_for(lambda: rig.stored_through(device) >= last, 60, "not all stored", step=0.2)
        rows = rig.stored_events(device)
        edge.stop()
        time.sleep(3.5)  # past the command timeout: every unanswered command is 'unknown'
        settled = _commands(rig, "command_acknowledged") | _commands(rig, "command_timed_out")
        released = {
            r.payload.get("command_id")
            for r in rows
            if r.kind == "lock_changed" and r.payload.get("state") == "released"
        } - {None}
        acknowledged = _commands(rig, "command_acknowledged")
        requested = _commands(rig, "unlock_requested")
        boot_locks = sum(
            1
            for r in rows
            if r.kind == "lock_changed"
            and r.payload.get("cause") == "boot"
            and r.payload.get("state") == "engaged"
        )
    executed = released | acknowledged | seen_released
    missing = {c for c in executed if c not in requested or c not in settled}
    boots = trials + 1
    return [
        info("agent kills", trials, f"({', '.join(f'{v} {k}' for k, v in modes.items())})"),
        at_least("boots with the lock engaged and relay off", locked_boots, boots, f"of {boots}"),
        at_least(
            "boots whose 'engaged at boot' event was stored", boot_locks, boots, f"of {boots}"
        ),
        at_least("outbox integrity_check ok after a kill", intact, trials, f"of {trials}"),
        info("unlocks the door executed", len(executed)),
        at_most("executed unlocks missing from the audit log", len(missing), 0),
        info("executed unlocks the log shows as 'unknown'", len(executed - acknowledged)),
    ]
