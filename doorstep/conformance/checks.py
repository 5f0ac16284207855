"""Judging what the device published: pure functions from recorded traffic to results.

Presence and retained state, message schemas, sequence numbers, snapshots, and whether
a refused probe was acted on. (Acknowledgements are judged in ``acks``.)

>>> results = [event_schema(seen), sequence(seen), snapshots(seen, requested)]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from protocol.codec import decode
from protocol.device import DeviceState, DeviceStatus
from protocol.errors import ProtocolError
from protocol.events import OutboxOverflowed
from protocol.snapshots import SNAPSHOT_META_PROPERTY
from protocol.topics import DEVICE_PUBLISHES

from .report import CheckResult, Status
from .traffic import Seen

_DEVICE_KINDS = {k.value for k in DEVICE_PUBLISHES}
_SHOW = 3  # problems quoted per check; the rest are counted


def _result(name: str, status: Status, reason: str) -> CheckResult:
    return CheckResult(name=name, status=status, reason=reason)


def loose_json(raw: bytes | str) -> dict[str, Any]:
    """Best-effort read of a payload that may be invalid (to correlate, never to judge)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def decoded(seen: Seen) -> Any:
    """The message as the reference codec reads it; raises ``ProtocolError`` if refused."""
    return decode(seen.topic, seen.payload, seen.properties).message


def summarise(problems: list[str]) -> str:
    """The first few distinct problems, each with how often it happened."""
    counts = Counter(problems)
    shown = [p if n == 1 else f"{p} (x{n})" for p, n in list(counts.items())[:_SHOW]]
    more = f" (and {len(counts) - _SHOW} more)" if len(counts) > _SHOW else ""
    return "; ".join(shown) + more


# -- presence --------------------------------------------------------------------
def latest_status(seen: Iterable[Seen]) -> DeviceStatus | None:
    statuses = [m for m in seen if m.kind == "status"]
    for m in reversed(statuses):
        try:
            return decoded(m)
        except ProtocolError:
            continue
    return None


def presence(seen: list[Seen], retained: set[str]) -> CheckResult:
    name = "presence.online"
    statuses = [m for m in seen if m.kind == "status"]
    if not statuses:
        return _result(
            name,
            Status.FAIL,
            "no status message: the device must publish a "
            "retained DeviceStatus on doorstep/v1/{device}/status on every connect",
        )
    first = statuses[0]
    try:
        status: DeviceStatus = decoded(first)
    except ProtocolError as exc:
        return _result(name, Status.FAIL, f"status does not decode: {exc}")
    if "status" not in retained:
        return _result(name, Status.FAIL, "status is not retained: publish it with retain=true")
    if not status.online:
        return _result(name, Status.FAIL, f"retained status says offline since {status.since}")
    return _result(name, Status.PASS, f"retained status online, boot {status.boot_id}")


def retained_state(seen: list[Seen], retained: set[str]) -> CheckResult:
    name = "presence.state"
    states = [m for m in seen if m.kind == "state"]
    if not states:
        return _result(
            name,
            Status.FAIL,
            "no retained state: the device must publish its "
            "DeviceState (lock, door) retained at start-up and after each change",
        )
    try:
        state: DeviceState = decoded(states[0])
    except ProtocolError as exc:
        return _result(name, Status.FAIL, f"state does not decode: {exc}")
    if "state" not in retained:
        return _result(name, Status.FAIL, "state is not retained: publish it with retain=true")
    return _result(name, Status.PASS, f"retained state: lock {state.lock}, door {state.door}")


# -- schema and sequence numbers ----------------------------------------------------
def event_schema(seen: list[Seen]) -> CheckResult:
    """Every message on a device topic decodes with the reference codec (snapshots aside)."""
    name = "messages.schema"
    judged = [m for m in seen if m.kind in _DEVICE_KINDS - {"snapshot"} or m.kind == "?"]
    problems = []
    for m in judged:
        try:
            decoded(m)
        except ProtocolError as exc:
            problems.append(str(exc))
    if problems:
        return _result(
            name,
            Status.FAIL,
            f"{len(problems)} of {len(judged)} messages refused: {summarise(problems)}",
        )
    events = sum(m.kind == "event" for m in judged)
    return _result(name, Status.PASS, f"{len(judged)} messages decode ({events} events)")


@dataclass(frozen=True, slots=True)
class Numbered:
    """A message that takes a sequence number (an event or a snapshot), read leniently."""

    id: str
    seq: int
    topic: str

    @property
    def what(self) -> str:
        """'snapshot' or the event kind, for messages people read."""
        return "snapshot" if "/snapshot/" in self.topic else self.topic.rsplit("/", 1)[-1]


def numbered(seen: Iterable[Seen]) -> list[Numbered]:
    out = []
    for m in seen:
        if m.kind == "event":
            data = loose_json(m.payload)
        elif m.kind == "snapshot":
            data = loose_json(dict(m.properties.user_properties).get(SNAPSHOT_META_PROPERTY, ""))
        else:
            continue
        seq = data.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            out.append(Numbered(str(data.get("id")), seq, m.topic))
    return out


def _dropped(seen: Iterable[Seen]) -> set[int]:
    """Sequence numbers the device declared lost in outbox_overflow events."""
    out: set[int] = set()
    for m in seen:
        if m.kind == "event" and m.topic.endswith("/outbox_overflow"):
            try:
                msg = decoded(m)
            except ProtocolError:
                continue
            if isinstance(msg, OutboxOverflowed):
                out.update(msg.dropped_seqs)
    return out


def sequence(seen: list[Seen]) -> CheckResult:
    """New messages carry seq = previous + 1; a repeat of (id, seq) is a harmless redelivery."""
    name = "events.sequence"
    items = numbered(seen)
    by_id: dict[str, int] = {}
    problems: list[str] = []
    skipped = 0
    dropped = _dropped(seen)
    last: int | None = None
    for item in items:
        if item.id in by_id:
            if by_id[item.id] != item.seq:
                problems.append(f"id {item.id} came with seq {by_id[item.id]} and {item.seq}")
            continue
        if item.seq in by_id.values():
            problems.append(f"seq {item.seq} reused by a {item.what} with another id")
        elif last is not None and item.seq <= last:
            problems.append(f"seq went back from {last} to {item.seq} ({item.what})")
        elif last is not None and item.seq > last + 1:
            missing = [s for s in range(last + 1, item.seq) if s not in dropped]
            if missing:
                problems.append(f"seq jumped from {last} to {item.seq} ({item.what})")
                skipped += len(missing)
        by_id[item.id] = item.seq
        last = item.seq if last is None else max(last, item.seq)
    if problems:
        why = f"{skipped} number(s) skipped without an outbox_overflow; " if skipped else ""
        return _result(name, Status.FAIL, why + summarise(problems))
    if len(by_id) < 2:
        return _result(
            name,
            Status.NOT_CHECKED,
            f"only {len(by_id)} numbered message(s) seen; need two events or snapshots",
        )
    return _result(
        name,
        Status.PASS,
        f"{len(by_id)} events/snapshots, seq "
        f"{min(by_id.values())}..{max(by_id.values())} without gaps",
    )


# -- snapshots ---------------------------------------------------------------------
def snapshots(seen: list[Seen], requested: set[str]) -> CheckResult:
    """JPEG bytes within 1 MiB with matching metadata, one for every executed request."""
    name = "snapshots.format"
    shots = [m for m in seen if m.kind == "snapshot"]
    if not shots:
        return _result(name, Status.NOT_CHECKED, "no snapshot seen (camera absent or privacy on)")
    problems, answered, sizes = [], set(), []
    for m in shots:
        try:
            snap = decoded(m)
        except ProtocolError as exc:
            problems.append(str(exc))
            continue
        sizes.append(snap.meta.size_bytes)
        if snap.meta.command_id in requested:
            if snap.meta.reason != "request":
                problems.append(f"{m.topic}: reason {snap.meta.reason!r} for a request")
            answered.add(snap.meta.command_id)
    missing = requested - answered
    if missing:
        problems.append(f"no valid snapshot for {len(missing)} executed snapshot request(s)")
    if problems:
        return _result(name, Status.FAIL, summarise(problems))
    return _result(
        name,
        Status.PASS,
        f"{len(shots)} JPEG snapshot(s) with matching metadata "
        f"({min(sizes)}..{max(sizes)} bytes, limit 1 MiB)",
    )


def refusals_inert(seen: list[Seen], requested: set[str], refused: set[str]) -> CheckResult:
    """No probe that had to be refused led to a picture (every probe asks for one)."""
    name = "command.refusals_inert"
    # A replay reuses the id of an executed command: its picture is the executed one's.
    refused = refused - requested
    if not refused:
        return _result(name, Status.NOT_CHECKED, "no probe was sent that had to be refused")
    acted, pictures = [], set()
    for m in seen:
        if m.kind == "snapshot":
            meta = loose_json(dict(m.properties.user_properties).get(SNAPSHOT_META_PROPERTY, ""))
            cid, sid = meta.get("command_id"), meta.get("id")
            if cid in refused:
                acted.append(f"{m.topic} answers {cid}")
            elif cid in requested and (cid, sid) not in pictures:
                # A second picture for one executed command means a replay was acted on
                # (a redelivered picture keeps its snapshot id).
                if any(c == cid for c, _ in pictures):
                    acted.append(f"{m.topic} is a second picture for command {cid}")
                pictures.add((cid, sid))
    if acted:
        return _result(
            name,
            Status.FAIL,
            f"the device acted on {len(acted)} command(s) it had to refuse: {summarise(acted)}",
        )
    return _result(name, Status.PASS, f"none of {len(refused)} refused probes led to a picture")
