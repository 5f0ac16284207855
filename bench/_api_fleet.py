"""A realistic hub database for the web API's read side: homes with their doors, family,
telecare officers watching every home, carers with visit windows, and weeks of history
(events, alerts, unlock audit entries) written through the hub's own storage functions.

    >>> fleet = build_fleet(db, FleetSize(homes=20, days=3), passwords, now)  # doctest: +SKIP
    >>> fleet.family[0].username, fleet.family[0].home                        # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pyotp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit import AuditAction, command_ref, device_ref, person_ref
from hub.audit.log import NewEntry, append_many
from hub.storage import (
    AlertKind,
    Database,
    DeviceHealth,
    add_membership,
    create_home,
    create_person,
    raise_alert,
    register_device,
    resolve_alert,
    set_health,
)
from hub.storage.accounts import Passwords, confirm_totp, create_account, start_totp
from hub.storage.devices import record_telemetries
from hub.storage.events import EventRecord, store_records
from hub.storage.models_registry import Role
from hub.storage.visits import add_check_in, add_window
from protocol import Telemetry, new_device_id
from protocol.signing import public_key_pem

PASSWORD = "bench password, long enough"
BOOT = "5f2c8e1a9b3d7c40"
TZ = "Europe/London"
HUB = "service:hub"
# What a door sends in a day, cycled: a visitor rings, is let in, the door re-locks.
_LOCK = {"command_id": None, "door": "closed"}
PATTERN = (
    ("ring", {"snapshot_id": None}),
    ("lock_changed", {"state": "released", "cause": "command", **_LOCK}),
    ("door_opened", {}),
    ("door_closed", {}),
    ("lock_changed", {"state": "engaged", "cause": "relock_timer", **_LOCK}),
)


@dataclass(frozen=True)
class FleetSize:
    homes: int = 500
    two_door_every: int = 10  # every n-th home has a back door too
    family_per_home: int = 2
    officers: int = 3
    days: int = 60
    events_per_day: int = 30  # per door
    unlocks_per_day: int = 2  # per door: 3 audit entries each (requested, sent, acknowledged)
    open_alert_every: int = 8  # every n-th door has an open alert
    resolved_alerts_per_door: int = 3
    visits_every: int = 5  # every n-th home has a carer with daily visit windows
    accounts: int = 10  # homes whose first family member gets an account (the bench's users)


@dataclass(frozen=True)
class User:
    username: str
    person: str
    home: str | None  # None: a telecare officer (every home)
    secret: str


@dataclass
class Fleet:
    homes: list[str] = field(default_factory=list)
    doors: dict[str, list[str]] = field(default_factory=dict)
    family: list[User] = field(default_factory=list)
    officers: list[User] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)  # home -> its family owner
    counts: dict[str, int] = field(default_factory=dict)


Progress = Callable[[str], None]


def build_fleet(
    db: Database, size: FleetSize, passwords: Passwords, now: datetime, progress: Progress
) -> Fleet:
    fleet = Fleet()
    _registry(db, size, passwords, now, fleet, progress)
    _history(db, size, now, fleet, progress)
    _alerts(db, size, now, fleet)
    fleet.counts["homes"] = len(fleet.homes)
    fleet.counts["doors"] = sum(len(d) for d in fleet.doors.values())
    return fleet


def _account(s: object, passwords: Passwords, person: str, name: str, now: datetime) -> str:
    create_account(s, passwords, person_id=person, username=name, password=PASSWORD, at=now)  # type: ignore[arg-type]
    secret = start_totp(s, person)  # type: ignore[arg-type]
    # An earlier step than the logins will use: each step is accepted once.
    if not confirm_totp(s, person, pyotp.TOTP(secret).at(now), at=now):  # type: ignore[arg-type]
        raise RuntimeError("could not confirm a bench account's TOTP: is the clock sane?")
    return secret


def _registry(
    db: Database,
    size: FleetSize,
    passwords: Passwords,
    now: datetime,
    fleet: Fleet,
    progress: Progress,
) -> None:
    pem = public_key_pem(Ed25519PrivateKey.generate().public_key()).decode()
    start = now - timedelta(days=size.days + 1)
    windows = 0
    with db.session() as s:
        officers = [
            create_person(s, display_name=f"Officer {i}", at=start).id for i in range(size.officers)
        ]
        for i, person in enumerate(officers):
            fleet.officers.append(
                User(
                    f"officer{i}", person, None, _account(s, passwords, person, f"officer{i}", now)
                )
            )
    for chunk in range(0, size.homes, 100):  # one transaction per 100 homes
        with db.session() as s:
            for i in range(chunk, min(chunk + 100, size.homes)):
                home = create_home(s, name=f"Home {i}", timezone=TZ, at=start).id
                fleet.homes.append(home)
                names = ["Front door", "Back door"][: 2 if i % size.two_door_every == 0 else 1]
                fleet.doors[home] = []
                for name in names:
                    device = new_device_id()
                    register_device(
                        s, device_id=device, name=name, public_key_pem=pem, at=start, home_id=home
                    )
                    fleet.doors[home].append(device)
                for f in range(size.family_per_home):
                    person = create_person(s, display_name=f"Family {i}.{f}", at=start).id
                    role = Role.FAMILY_OWNER if f == 0 else Role.FAMILY_MEMBER
                    add_membership(s, person_id=person, home_id=home, role=role, at=start)
                    fleet.owners.setdefault(home, person)
                    if f == 0 and i < size.accounts:
                        name = f"family{i}"
                        fleet.family.append(
                            User(name, person, home, _account(s, passwords, person, name, now))
                        )
                for officer in officers:
                    add_membership(
                        s, person_id=officer, home_id=home, role=Role.TELECARE_OFFICER, at=start
                    )
                if i % size.visits_every == 0:
                    windows += _visits(s, home, now, start)
        progress(f"registry: {len(fleet.homes)}/{size.homes} homes")
    _heartbeats(db, fleet, now)
    fleet.counts["visit_windows"] = windows
    fleet.counts["carers"] = windows // 22
    fleet.counts["family_members"] = size.homes * size.family_per_home
    fleet.counts["officers"] = size.officers


def _visits(s: object, home: str, now: datetime, start: datetime) -> int:
    """A carer with three visits every day and one on now (so /expected has someone)."""
    carer = create_person(s, display_name="Carer", at=start).id  # type: ignore[arg-type]
    add_membership(s, person_id=carer, home_id=home, role=Role.CARER, at=start)  # type: ignore[arg-type]
    common = {"home_id": home, "carer_id": carer, "agency": "Bench Care", "tolerance_min": 15,
              "created_by": carer, "at": start}  # fmt: skip
    for weekday in range(7):
        for h in (8, 12, 18):
            add_window(s, weekday=weekday, start=time(h), end=time(h, 30), **common)  # type: ignore[arg-type]
    local = now.astimezone(ZoneInfo(TZ))
    begin, end = (local - timedelta(minutes=30)).time(), (local + timedelta(minutes=30)).time()
    w = add_window(s, on_date=local.date(), start=begin, end=end, **common)  # type: ignore[arg-type]
    add_check_in(s, w.id, carer, at=now - timedelta(minutes=5))  # type: ignore[arg-type]
    return 22


def _heartbeats(db: Database, fleet: Fleet, now: datetime) -> None:
    devices = [d for doors in fleet.doors.values() for d in doors]
    beats = [
        (Telemetry(device=d, boot_id=BOOT, at=now, monotonic_ms=1, clock_synced=True, uptime_s=60,
                   software_version="0.1.0", outbox_depth=0, disk_free_bytes=8_000_000_000,
                   heartbeat_interval_s=60), now)
        for d in devices
    ]  # fmt: skip
    with db.session() as s:
        record_telemetries(s, beats)
        for i, d in enumerate(devices):  # most online; a few silent
            set_health(s, d, DeviceHealth.OFFLINE if i % 25 == 7 else DeviceHealth.ONLINE, now)


def _templates() -> list[tuple[str, dict[str, object]]]:
    return [(kind, {"v": 1, "kind": kind, **extra}) for kind, extra in PATTERN]


def _history(
    db: Database, size: FleetSize, now: datetime, fleet: Fleet, progress: Progress
) -> None:
    """Each door's days of events (one delivery per door and day, as a door that syncs
    its outbox), and each day's unlocks in the audit log."""
    templates = _templates()
    devices = [(home, d) for home in fleet.homes for d in fleet.doors[home]]
    seqs = dict.fromkeys((d for _, d in devices), 0)
    day_s = 15 * 3600 / max(size.events_per_day, 1)  # spread over 07:00-22:00
    events = audit = 0
    first = (now - timedelta(days=size.days)).replace(hour=0, minute=0, second=0, microsecond=0)
    for day in range(size.days):
        base = first + timedelta(days=day, hours=7)
        entries: list[NewEntry] = []
        with db.session() as s:
            for n, (home, device) in enumerate(devices):
                records = []
                cycle = itertools.cycle(templates)
                for k in range(size.events_per_day):
                    kind, template = next(cycle)
                    seqs[device] += 1
                    seq = seqs[device]
                    at = base + timedelta(seconds=k * day_s + n % 60)
                    payload = dict(template, device=device, id=str(uuid.uuid4()), seq=seq,
                                   boot_id=BOOT, at=at.isoformat().replace("+00:00", "Z"),
                                   monotonic_ms=seq * 1000)  # fmt: skip
                    records.append(EventRecord(device, seq, payload["id"], kind, BOOT, at, payload))  # type: ignore[arg-type]
                store_records(s, records, records[-1].device_time + timedelta(seconds=1))
                events += len(records)
                actor = person_ref(fleet.owners[home])
                for u in range(size.unlocks_per_day):
                    at = base + timedelta(hours=1 + u * 5, seconds=n % 60)
                    cmd = command_ref(str(uuid.uuid4()))
                    subjects = [device_ref(device), cmd]
                    entries += [
                        NewEntry(AuditAction.UNLOCK_REQUESTED, actor, at, subjects, {"reason": ""}),
                        NewEntry(AuditAction.COMMAND_SENT, HUB, at, subjects, {"action": "unlock"}),
                        NewEntry(AuditAction.COMMAND_ACKNOWLEDGED, device_ref(device), at, subjects,
                                 {"outcome": "executed", "reason": None}),
                    ]  # fmt: skip
            for start in range(0, len(entries), 2000):
                append_many(s, entries[start : start + 2000])
            audit += len(entries)
        if day % 5 == 4 or day == size.days - 1:
            progress(
                f"history: day {day + 1}/{size.days}, {events:,} events, {audit:,} audit entries"
            )
    fleet.counts["events"] = events
    fleet.counts["audit_entries"] = audit


def _alerts(db: Database, size: FleetSize, now: datetime, fleet: Fleet) -> None:
    kinds = [AlertKind.DEVICE_OFFLINE, AlertKind.DOOR_LEFT_OPEN, AlertKind.UNANSWERED_RING]
    opened = resolved = 0
    with db.session() as s:
        for n, device in enumerate(d for home in fleet.homes for d in fleet.doors[home]):
            for k in range(size.resolved_alerts_per_door):
                at = now - timedelta(days=k + 1)
                alert, _ = raise_alert(s, kinds[k % len(kinds)], at=at, device_id=device)
                resolve_alert(s, alert.id, at=at + timedelta(minutes=10), by=None)
                resolved += 1
            if n % size.open_alert_every == 0:
                raise_alert(s, AlertKind.DOOR_LEFT_OPEN, at=now, device_id=device)
                opened += 1
    fleet.counts["open_alerts"] = opened
    fleet.counts["resolved_alerts"] = resolved
