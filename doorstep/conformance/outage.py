"""Outbox behaviour across a broker restart: nothing made while the broker was away is lost.

The kit stops the broker (``BrokerControl``), has the device make events while it cannot
publish (``EventSource``: e.g. a simulator's bell, a relay on the bell button), starts the
broker again, has it make one more event, and then checks that every sequence number
arrived, in order, each with one id. It also plays the hub's part of the outbox contract:
it publishes a retained ``sync`` before the outage, and nothing that sync confirmed may be
sent again after the restart. So this mode needs a broker with no hub on it.

    >>> control = ShellCommands(stop="systemctl stop mosquitto", start="systemctl start ...")
    >>> broker_restart(session, control, ShellCommands(event="sim-ring door-1a2b3c"))  # +SKIP
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from protocol.base import utcnow
from protocol.codec import encode
from protocol.device import Sync

from .checks import loose_json, numbered, summarise
from .errors import ConformanceSetupError
from .report import CheckResult, Status
from .session import Session
from .traffic import Seen

RESTART = "outbox.broker_restart"
SYNC = "outbox.sync"
_SYNC_SETTLE_S = 0.5  # time for the device to act on the kit's sync before the broker goes


class BrokerControl(Protocol):
    """Stops and starts the device's broker (same port, same persistent data)."""

    def stop(self) -> object: ...

    def start(self) -> object: ...


EventSource = Callable[[], object]  # makes the device produce at least one event


@dataclass(frozen=True)
class ShellCommands:
    """``--broker-stop-cmd``, ``--broker-start-cmd`` and ``--event-cmd`` as callables."""

    stop_cmd: str = ""
    start_cmd: str = ""
    event_cmd: str = ""

    def stop(self) -> None:
        _run(self.stop_cmd, "--broker-stop-cmd")

    def start(self) -> None:
        _run(self.start_cmd, "--broker-start-cmd")

    def event(self) -> None:
        _run(self.event_cmd, "--event-cmd")


def _run(command: str, flag: str) -> None:
    try:
        done = subprocess.run(shlex.split(command), capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConformanceSetupError(f"{flag} {command!r} could not run: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip()[-200:]
        raise ConformanceSetupError(f"{flag} {command!r} exited {done.returncode}: {err}")


def settled_through(seen: list[Seen]) -> int:
    """The highest seq such that every seq from the first one seen up to it was seen."""
    seqs = sorted({n.seq for n in numbered(seen)})
    top = 0
    for i, seq in enumerate(seqs):
        if i and seq != seqs[i - 1] + 1:
            break
        top = seq
    return top


def _live_online(since: int) -> Callable[[list[Seen]], bool]:
    """A status ``online`` sent live (not the broker's retained copy) after ``since``."""

    def check(seen: list[Seen]) -> bool:
        return any(
            m.kind == "status" and not m.retained and loose_json(m.payload).get("online") is True
            for m in seen[since:]
        )

    return check


def _back_before_kit(seen: list[Seen], before: int, since: int) -> bool:
    """Did the device connect again before the kit listened? (a newer retained status)"""

    def stamps(items: list[Seen]) -> set[object]:
        return {loose_json(m.payload).get("since") for m in items if m.kind == "status"}

    return bool(stamps(seen[since:]) - stamps(seen[:before]))


def broker_restart(
    session: Session, control: BrokerControl | None, event: EventSource | None
) -> None:
    """Run the outage and record ``outbox.broker_restart`` and ``outbox.sync``."""
    if control is None or event is None:
        why = (
            "pass --broker-stop-cmd, --broker-start-cmd and --event-cmd (a broker the kit "
            "may restart, with no hub on it) to check the outbox across a broker restart"
        )
        session.skip(RESTART, why)
        session.skip(SYNC, why)
        return
    options, traffic = session.options, session.traffic
    base = settled_through(traffic.snapshot())
    if base:  # play the hub: all up to base is stored, the device may forget it
        traffic.publish(encode(Sync(device=options.device_id, stored_through=base, at=utcnow())))
        time.sleep(_SYNC_SETTLE_S)
    before = len(traffic.snapshot())
    made = options.outage_events
    traffic.pause()
    control.stop()
    try:
        for _ in range(made):
            event()
        time.sleep(options.outage_s)
    finally:
        control.start()
        traffic.resume()
    start = len(traffic.snapshot())
    seen = traffic.wait(_live_online(start), options.restart_timeout_s)
    if not _live_online(start)(seen):
        seen = traffic.snapshot()
        if _back_before_kit(seen, before, start):
            why = (
                "the device reconnected before the kit could listen again, so the kit may "
                "have missed its first messages; run again (the kit resubscribes at once)"
            )
            session.skip(RESTART, why)
            session.skip(SYNC, why)
        else:
            reason = "the device did not come back online after the broker restarted"
            session.note(RESTART, Status.FAIL, f"{reason}: reconnect by yourself")
            session.skip(SYNC, reason)
        return
    event()  # one more once it is back: a device that dropped the outage's events shows a gap
    made += 1

    def complete(seen: list[Seen]) -> bool:
        new = {n.seq for n in numbered(seen[start:]) if n.seq > base}
        return len(new) >= made and settled_through(seen) >= max(new)

    traffic.wait(complete, options.restart_timeout_s)
    time.sleep(_SYNC_SETTLE_S)  # late duplicates count too
    seen = traffic.snapshot()
    session.put(judge_restart(seen[start:], base, made))
    session.put(judge_resent(seen[start:], base))
    top = settled_through(seen)
    if top > base:
        traffic.publish(encode(Sync(device=options.device_id, stored_through=top, at=utcnow())))


def judge_restart(after: list[Seen], base: int, made: int) -> CheckResult:
    """Every seq after ``base`` arrives once, in order, at least ``made`` of them."""
    items = [n for n in numbered(after) if n.seq > base]
    firsts: dict[int, str] = {}
    order: list[int] = []
    problems: list[str] = []
    again = 0  # the same message again: allowed (QoS 1, outbox resend), counted
    for item in items:
        if item.seq in firsts:
            if firsts[item.seq] != item.id:
                problems.append(f"seq {item.seq} came with two different ids")
            again += 1
            continue
        firsts[item.seq] = item.id
        order.append(item.seq)
    if order != sorted(order):
        problems.append(f"seqs arrived out of order: {order[:8]}")
    missing = [s for s in range(base + 1, max(order, default=base) + 1) if s not in firsts]
    if missing:
        shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
        problems.append(
            f"seq {shown} never arrived: {len(missing)} event(s) made while the broker was "
            "down were lost; keep every event in a durable outbox until the hub's sync "
            "confirms it, and publish the outbox again on reconnect"
        )
    if len(order) < made:
        problems.append(
            f"only {len(order)} new event(s) after the restart, the kit provoked {made}"
        )
    if problems:
        return session_result(RESTART, Status.FAIL, summarise(problems))
    return session_result(
        RESTART,
        Status.PASS,
        f"{len(order)} events made around a broker restart arrived, seq "
        f"{order[0]}..{order[-1]}, in order, none lost, each with one id"
        + (f" ({again} harmless redelivery(ies) of the same message)" if again else ""),
    )


def judge_resent(after: list[Seen], base: int) -> CheckResult:
    """Nothing the kit's sync confirmed before the outage comes again after it."""
    if not base:
        return session_result(SYNC, Status.NOT_CHECKED, "no event before the outage to confirm")
    again = sorted({n.seq for n in numbered(after) if n.seq <= base})
    if again:
        return session_result(
            SYNC,
            Status.FAIL,
            f"seq {', '.join(map(str, again[:8]))} sent again after the restart although "
            f"sync stored_through={base} had confirmed it: delete confirmed entries "
            "from the outbox",
        )
    return session_result(
        SYNC, Status.PASS, f"sync stored_through={base} honoured: nothing confirmed was re-sent"
    )


def session_result(name: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(name=name, status=status, reason=reason)
