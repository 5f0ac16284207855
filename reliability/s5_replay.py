"""Replay and forgery: captured valid unlocks played again, and mutated commands.

Two doors run the real edge agent (simulated boards, relays watched); the hub signs real
unlocks, and a tap on its link keeps a copy of each command as it leaves (what someone
listening on the broker would capture). Then, with the hub's own broker rights:

- replayed now: every captured command, to its door;
- after expiry: valid commands held back (never delivered) until past their deadline;
- after a reboot: valid commands held back across a restart of the agent;
- to another door: every captured command, and fresh ones, sent to the other door.

The door's own verdicts (a tap on its command guard) and its relay say whether anything was
accepted. Mutated commands (s5_mutations.py) go through the device's real verifier.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from edge.agent import EdgeAgent
from edge.clock import AgentClock
from protocol import TopicKind, UnlockDoor, encode_signed, new_message_id, sign, utcnow
from protocol.codec import WireMessage

from .figures import Figure, at_most, info
from .rig import Rig, device_agent, wait_for
from .s5_mutations import mutated_commands

TITLE = "Replayed and forged commands"
SHORT = "20 captured unlocks; 2,000 mutated commands"
FULL = "1,000 captured unlocks; 100,000 mutated commands"


class SteppedClock:
    """The agent's monotonic clock, which the scenario can move forward (no sleeping)."""

    def __init__(self) -> None:
        self.offset_ns = 0

    def __call__(self) -> int:
        return time.monotonic_ns() + self.offset_ns


class Verdicts:
    """What the door's guard decided, per command payload it checked."""

    def __init__(self, agent: EdgeAgent) -> None:
        self.accepted = 0
        self.rejected: dict[str, int] = {}
        self.crashes = 0
        self.seen = 0
        self._cond = threading.Condition()
        real: Callable[[bytes], Any] = agent.guard.check

        def check(payload: bytes) -> Any:
            try:
                verdict = real(payload)
            except Exception:
                with self._cond:
                    self.crashes += 1
                    self.seen += 1
                    self._cond.notify_all()
                raise
            with self._cond:
                self.seen += 1
                if verdict.command is not None:
                    self.accepted += 1
                else:
                    key = verdict.reason.value if verdict.reason else "?"
                    self.rejected[key] = self.rejected.get(key, 0) + 1
                self._cond.notify_all()
            return verdict

        agent.guard.check = check  # type: ignore[method-assign]

    def wait(self, count: int, timeout: float = 60) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.seen >= count, timeout):
                raise TimeoutError(f"the door checked {self.seen} of {count} commands")


def _fresh(rig: Rig, agent: EdgeAgent, counter: int) -> UnlockDoor:
    """A valid unlock for ``agent`` as the hub makes one (same key, fields, lifetime)."""
    now = utcnow()
    return UnlockDoor(
        device=agent.device_id,
        id=new_message_id(),
        counter=counter,
        issued_at=now,
        expires_at=now + timedelta(seconds=20),
        boot_id=agent.clock.boot_id,
        not_after_monotonic_ms=agent.clock.monotonic_ms() + 20_000,
        requested_by=rig.person,
    )


def _wire(rig: Rig, command: UnlockDoor, to: str | None = None) -> WireMessage:
    envelope = sign(command, rig.deployment.hub_signer())
    return encode_signed(TopicKind.COMMAND, to or command.device, envelope)


def _send_all(rig: Rig, wires: list[WireMessage], to: str | None = None) -> None:
    assert rig.hub is not None
    for wire in wires:
        if to is not None:  # the same bytes on another door's command topic
            wire = WireMessage(wire.topic.replace(wire.topic.split("/")[2], to), wire.payload,
                               wire.qos, wire.retain, wire.properties)  # fmt: skip
        rig.hub.link.publish(wire).wait_for_publish(5)


def run(full: bool) -> list[Figure]:
    captures, mutations = (1000, 100_000) if full else (20, 2_000)
    held = max(captures // 10, 5)
    with Rig.start(devices=2, command_timeout_s=5.0) as rig:
        hub = rig.hub
        assert hub is not None
        door, other = rig.devices
        stepped = SteppedClock()
        agent, board = device_agent(rig, door, AgentClock(monotonic_ns=stepped))
        other_agent, other_board = device_agent(rig, other)
        wait_for(lambda: rig.online_boot(door) and rig.online_boot(other), 20, "doors offline")
        captured: list[WireMessage] = []
        real_publish = hub.link.publish

        def tap(wire: WireMessage) -> Any:
            if wire.topic.endswith("/cmd"):
                captured.append(wire)
            return real_publish(wire)

        hub.link.publish = tap  # type: ignore[method-assign]
        executed = 0
        for _ in range(captures):
            ticket = hub.commands.request(door, "unlock", person_id=rig.person, reason="capture")
            executed += hub.commands.wait(ticket.id, 5) == "acknowledged"
        hub.link.publish = real_publish  # type: ignore[method-assign]
        verdicts, other_verdicts = Verdicts(agent), Verdicts(other_agent)
        other_releases = len([1 for _t, on in other_board.relay_changes if on])
        figures: list[Figure] = [info("captured unlocks (executed once each)", executed)]
        phases: list[tuple[str, int]] = []

        def phase(name: str, sent: int, v: Verdicts, before: int) -> None:
            v.wait(before + sent)
            phases.append((name, sent))

        # 1. replayed now
        _send_all(rig, captured)
        phase("replayed now", len(captured), verdicts, 0)
        # 2. after expiry: valid ones held back, the door's clock moved past their deadline
        counter = agent.guard.counter + 1
        kept = [_fresh(rig, agent, counter + i) for i in range(held)]
        stepped.offset_ns += 60 * 10**9
        _send_all(rig, [_wire(rig, c) for c in kept])
        phase("held back until expired", held, verdicts, len(captured))
        # 3. after a reboot of the agent: held back across it (and the captured ones again)
        kept = [_fresh(rig, agent, counter + held + i) for i in range(held)]
        agent.stop()
        board.close()
        agent, board = device_agent(rig, door)
        verdicts_after = Verdicts(agent)
        wait_for(lambda: agent.link.connected, 10, "the rebooted door did not connect")
        time.sleep(0.3)  # its subscription is in place
        _send_all(rig, [_wire(rig, c) for c in kept] + captured)
        phase("held back across a reboot / captured", held + len(captured), verdicts_after, 0)
        # 4. to another door: the captured ones, and fresh ones made for the first door
        fresh = [_fresh(rig, agent, agent.guard.counter + 1 + i) for i in range(held)]
        _send_all(rig, captured + [_wire(rig, c) for c in fresh], to=other)
        phase("sent to another door", len(captured) + held, other_verdicts, 0)
        time.sleep(0.2)
        after = len([1 for _t, on in board.relay_changes if on])  # the rebooted door's relay
        other_after = len([1 for _t, on in other_board.relay_changes if on]) - other_releases
        alive = agent.alive(5) and other_agent.alive(5)
        time.sleep(1.0)  # the doors' signed refusals reach the hub
        recorded = len(rig.audit("command_rejected"))
        agent.stop()
        other_agent.stop()
        board.close()
        other_board.close()
    accepted = verdicts.accepted + verdicts_after.accepted + other_verdicts.accepted
    crashes = verdicts.crashes + verdicts_after.crashes + other_verdicts.crashes
    reasons: dict[str, int] = {}
    for v in (verdicts, verdicts_after, other_verdicts):
        for k, n in v.rejected.items():
            reasons[k] = reasons.get(k, 0) + n
    for name, sent in phases:
        figures.append(info(f"replays: {name}", sent))
    figures += [
        at_most("replayed commands accepted", accepted, 0),
        at_most("relay releases caused by replays", after + other_after, 0),
        at_most("door crashes on replays (worker alive after)", crashes + (not alive), 0),
        info("door refusals in the hub's audit log", f"{recorded} of {sum(reasons.values())}"),
        info(
            "replays refused, by reason", ", ".join(f"{k} {n}" for k, n in sorted(reasons.items()))
        ),
    ]
    return figures + mutated_commands(mutations)
