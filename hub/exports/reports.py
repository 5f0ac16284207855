"""Reports for a council data officer: ring-to-answer times, unlocks per home, door uptime.

Each report is a table (``Report``: columns and rows of plain values) over the homes
the caller may see and a time range [since, until). Rows name homes, doors, rings
and commands by id only, never people. ``csvjson`` writes them as CSV or JSON.

    with db.read_session() as s:
        report = build_report(s, "ring-answers", homes={home}, since=a, until=b, now=now)
    report.columns, report.rows[0]
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..audit.actions import AuditAction, RefKind, device_ref, split_ref
from ..errors import InvalidValue
from ..storage.audit_recent import audit_rows_naming_between
from ..storage.models_registry import Home
from ..storage.reports import (
    audit_rows_between,
    devices_in,
    events_of_kinds,
    offline_alerts,
    roles_in_homes,
    unlock_commands,
)

# A ring not answered within this long counts as unanswered (and a later answer
# belongs to a later ring).
ANSWER_WINDOW = timedelta(minutes=15)
WHO_KIND = {
    "family_owner": "family",
    "family_member": "family",
    "carer": "carer",
    "telecare_officer": "telecare",
    "admin": "admin",
}
WHO_KINDS = ("family", "carer", "telecare", "break_glass", "admin", "unknown")


@dataclass(frozen=True)
class Report:
    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """What a report covers: homes (None = every home) and [since, until), seen at ``now``."""

    homes: Collection[str] | None
    since: datetime
    until: datetime
    now: datetime


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at else None


def _seconds(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


# -- ring to answer -------------------------------------------------------------------


RING_COLUMNS = (
    "home_id",
    "device_id",
    "ring_event_id",
    "ring_at",
    "repeat",
    "answer",
    "answered_at",
    "answer_seconds",
    "unlock_confirmed_at",
    "unlock_seconds",
)


def ring_answers(session: Session, scope: Scope) -> Report:
    """One row per ring: when it was first answered (an unlock asked for, or the door
    opened) and when the door confirmed an unlock, in seconds after the ring."""
    devices = {d.id: d.home_id for d in devices_in(session, scope.homes)}
    horizon = scope.until + ANSWER_WINDOW
    rings = events_of_kinds(session, devices, {"ring"}, scope.since, scope.until)
    answers: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    confirmations: dict[str, list[datetime]] = defaultdict(list)
    for device, _id, _kind, at, _dt in events_of_kinds(
        session, devices, {"door_opened"}, scope.since, horizon
    ):
        answers[device].append((at, "door_opened"))
    for c in unlock_commands(session, devices, scope.since, horizon):
        answers[c.device_id].append((c.created_at, "unlock_requested"))
        if c.status.value == "acknowledged" and c.acked_at is not None:
            confirmations[c.device_id].append(c.acked_at)
    for device in answers:
        answers[device].sort()
        confirmations[device].sort()
    rows: list[dict[str, Any]] = []
    # device -> (first ring of the current wait, when that ring was answered or None)
    waiting: dict[str, tuple[datetime, datetime | None]] = {}
    for device, event_id, _kind, at, _device_time in rings:
        first = next(((t, k) for t, k in answers[device] if at <= t < at + ANSWER_WINDOW), None)
        confirmed = next((t for t in confirmations[device] if at <= t < at + ANSWER_WINDOW), None)
        episode = waiting.get(device)
        # A press while an earlier one still waits (within the window) is a repeat.
        repeat = (
            episode is not None
            and at - episode[0] < ANSWER_WINDOW
            and (episode[1] is None or episode[1] > at)
        )
        if not repeat:
            waiting[device] = (at, first[0] if first else None)
        rows.append(
            {
                "home_id": devices[device],
                "device_id": device,
                "ring_event_id": event_id,
                "ring_at": _iso(at),
                "repeat": repeat,
                "answer": first[1] if first else "",
                "answered_at": _iso(first[0]) if first else None,
                "answer_seconds": _seconds(first[0] - at) if first else None,
                "unlock_confirmed_at": _iso(confirmed),
                "unlock_seconds": _seconds(confirmed - at) if confirmed else None,
            }
        )
    return Report("ring-answers", RING_COLUMNS, rows)


SUMMARY_COLUMNS = (
    "home_id",
    "rings",
    "repeat_rings",
    "answered",
    "unanswered",
    "median_answer_seconds",
    "p90_answer_seconds",
    "max_answer_seconds",
)


def ring_answer_summary(session: Session, scope: Scope) -> Report:
    """Per home: rings (first presses), how many were answered, and how fast."""
    by_home: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in ring_answers(session, scope).rows:
        by_home[row["home_id"]].append(row)
    rows = []
    for home, rings in sorted(by_home.items(), key=lambda kv: kv[0] or ""):
        firsts = [r for r in rings if not r["repeat"]]
        times = sorted(r["answer_seconds"] for r in firsts if r["answer_seconds"] is not None)
        rows.append(
            {
                "home_id": home,
                "rings": len(firsts),
                "repeat_rings": len(rings) - len(firsts),
                "answered": len(times),
                "unanswered": len(firsts) - len(times),
                "median_answer_seconds": round(statistics.median(times), 3) if times else None,
                # nearest rank: the smallest time at least 90 % of answers were within
                "p90_answer_seconds": times[math.ceil(0.9 * len(times)) - 1] if times else None,
                "max_answer_seconds": times[-1] if times else None,
            }
        )
    return Report("ring-answer-summary", SUMMARY_COLUMNS, rows)


# -- unlocks per home -------------------------------------------------------------------


UNLOCK_COLUMNS = (
    "home_id",
    "month",
    "who_kind",
    "requested",
    "acknowledged",
    "rejected",
    "failed",
    "unknown",
    "pending",
)
_PENDING = {"requested", "sent"}


def unlocks_per_home(session: Session, scope: Scope) -> Report:
    """Unlocks asked for, per home, per month (the home's own time zone), by who asked."""
    devices = {d.id: d.home_id for d in devices_in(session, scope.homes)}
    commands = unlock_commands(session, devices, scope.since, scope.until)
    homes = {h for h in devices.values() if h}
    zones = {h: ZoneInfo(session.get(Home, h).timezone) for h in homes}  # type: ignore[union-attr]
    roles = roles_in_homes(session, {c.requested_by for c in commands}, homes)
    glass = _break_glass_commands(session, scope, devices)
    counts: dict[tuple[str | None, str, str], dict[str, int]] = {}
    for c in commands:
        home = devices[c.device_id]
        zone = zones.get(home, UTC) if home else UTC
        month = c.created_at.astimezone(zone).strftime("%Y-%m")
        if c.id in glass:
            who = "break_glass"
        else:
            kinds = {WHO_KIND[r] for r in roles.get((c.requested_by, home or ""), ())}
            who = min(kinds, key=WHO_KINDS.index) if kinds else "unknown"
        row = counts.setdefault((home, month, who), dict.fromkeys(UNLOCK_COLUMNS[3:], 0))
        row["requested"] += 1
        status = c.status.value
        row["pending" if status in _PENDING else status] += 1
    rows = [
        {"home_id": h, "month": m, "who_kind": w, **n}
        for (h, m, w), n in sorted(counts.items(), key=lambda kv: (kv[0][0] or "", *kv[0][1:]))
    ]
    return Report("unlocks-per-home", UNLOCK_COLUMNS, rows)


def _break_glass_commands(session: Session, scope: Scope, devices: Collection[str]) -> set[str]:
    """Unlocks made under a break-glass (an officer's time-boxed emergency access): their
    request's audit entry names the box (``details.break_glass``).

    Both entries name the door, so a report on some homes reads only their doors'
    entries through the audit index, not every home's unlocks in the window."""
    actions = [AuditAction.UNLOCK_REQUESTED.value, AuditAction.BREAK_GLASS.value]
    until = scope.until + ANSWER_WINDOW
    if scope.homes is None:
        rows = audit_rows_between(session, actions, scope.since, until)
    else:
        refs = [device_ref(d) for d in devices]
        rows = audit_rows_naming_between(session, refs, actions, scope.since, until)
    return {
        i
        for r in rows
        if r.action == AuditAction.BREAK_GLASS.value or r.details.get("break_glass")
        for k, i in map(split_ref, r.subjects)
        if k is RefKind.COMMAND
    }


# -- device uptime ----------------------------------------------------------------------


UPTIME_COLUMNS = (
    "device_id",
    "home_id",
    "month",
    "observed_seconds",
    "offline_seconds",
    "uptime_percent",
    "outages",
)


def _months(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """UTC calendar months overlapping [start, end), each clipped to it."""
    out = []
    cursor = start.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while cursor < end:
        nxt = cursor.replace(year=cursor.year + cursor.month // 12, month=cursor.month % 12 + 1)
        out.append((max(cursor, start), min(nxt, end)))
        cursor = nxt
    return out


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> timedelta:
    return max(timedelta(0), min(a[1], b[1]) - max(a[0], b[0]))


def device_uptime(session: Session, scope: Scope) -> Report:
    """Per door per UTC month: the share of time it was not offline, from the hub's
    ``device_offline`` alerts (raised when the hub marked it offline, resolved when it
    was heard from again). See docs/exports.md for what this does not see."""
    end = min(scope.until, scope.now)
    devices = devices_in(session, scope.homes)
    outages: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for device, raised, resolved in offline_alerts(session, [d.id for d in devices], end):
        outages[device].append((raised, resolved or scope.now))
    rows = []
    for d in devices:
        start = max(scope.since, d.registered_at)
        stop = min(end, d.revoked_at) if d.revoked_at else end
        for month in _months(start, stop) if start < stop else []:
            observed = month[1] - month[0]
            down = sum((_overlap(month, o) for o in outages[d.id]), timedelta(0))
            began = sum(1 for o in outages[d.id] if month[0] <= o[0] < month[1])
            rows.append(
                {
                    "device_id": d.id,
                    "home_id": d.home_id,
                    "month": month[0].strftime("%Y-%m"),
                    "observed_seconds": _seconds(observed),
                    "offline_seconds": _seconds(down),
                    "uptime_percent": round(100 * (1 - down / observed), 3),
                    "outages": began,
                }
            )
    return Report("device-uptime", UPTIME_COLUMNS, rows)


REPORTS: dict[str, Callable[[Session, Scope], Report]] = {
    "ring-answers": ring_answers,
    "ring-answer-summary": ring_answer_summary,
    "unlocks-per-home": unlocks_per_home,
    "device-uptime": device_uptime,
}


def build_report(session: Session, name: str, scope: Scope) -> Report:
    if name not in REPORTS:
        raise InvalidValue(f"no report {name!r}: choose one of {', '.join(REPORTS)}")
    if scope.since >= scope.until:
        raise InvalidValue("'from' must be before 'to'")
    return REPORTS[name](session, scope)
