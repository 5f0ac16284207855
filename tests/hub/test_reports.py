"""Reports for a data officer against a scenario whose answers are known: rings at known
times answered after known seconds, unlocks by known people, outages of known length."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from hub.audit import AuditAction, append, command_ref, device_ref, person_ref
from hub.exports.csvjson import to_csv, to_json
from hub.exports.reports import Scope, build_report
from hub.storage import (
    add_membership,
    create_command,
    create_home,
    create_person,
    raise_alert,
    record_ack,
    register_device,
    resolve_open_alert,
    store_event,
)
from hub.storage.models_commands import AlertKind
from hub.storage.models_registry import Role
from protocol.commands import AckOutcome
from protocol.events import DoorbellRang, DoorOpened
from protocol.examples import EXAMPLE_BOOT, example_key
from protocol.signing import public_key_pem
from tests.fixtures.audit_reads import entries_read

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
PEM = public_key_pem(example_key().public_key()).decode()


@dataclass
class World:
    db: object
    home: str
    other: str
    door: str
    door2: str
    family: str
    carer: str
    officer: str


def _ring(device: str, seq: int, at: datetime) -> DoorbellRang:
    return DoorbellRang(
        device=device, id=str(uuid.uuid4()), seq=seq, boot_id=EXAMPLE_BOOT, at=at, monotonic_ms=seq
    )


def _opened(device: str, seq: int, at: datetime) -> DoorOpened:
    return DoorOpened(
        device=device, id=str(uuid.uuid4()), seq=seq, boot_id=EXAMPLE_BOOT, at=at, monotonic_ms=seq
    )


def _unlock(s, device: str, by: str, at: datetime, counter: int, answer, after_s: float) -> str:
    cid = str(uuid.uuid4())
    create_command(
        s, command_id=cid, device_id=device, action="unlock", counter=counter,
        requested_by=by, reason="", at=at,
    )  # fmt: skip
    if answer is not None:
        record_ack(
            s, cid, outcome=answer, at=at + timedelta(seconds=after_s), payload="{}",
            signature=f"sig-{cid}", key_id="k1",
        )  # fmt: skip
    return cid


@pytest.fixture(scope="module")
def world(module_database) -> World:
    db = module_database
    with db.session() as s:
        home = create_home(s, name="A", timezone="Europe/London", at=T0 - timedelta(days=60)).id
        other = create_home(s, name="B", timezone="Europe/London", at=T0 - timedelta(days=60)).id
        people = {}
        for name, role in (
            ("f", Role.FAMILY_MEMBER),
            ("c", Role.CARER),
            ("o", Role.TELECARE_OFFICER),
        ):
            people[name] = create_person(s, display_name=f"Name-{name}", at=T0).id
            add_membership(s, person_id=people[name], home_id=home, role=role, at=T0)
        door, door2, far = "door-aaa111", "door-bbb222", "door-ccc333"
        for device, registered, where in (
            (door, datetime(2026, 2, 1, tzinfo=UTC), home),
            (door2, datetime(2026, 3, 16, tzinfo=UTC), home),
            (far, datetime(2026, 2, 1, tzinfo=UTC), other),
        ):
            register_device(
                s, device_id=device, name="Front", public_key_pem=PEM, at=registered, home_id=where
            )
        # Ring 1 at T0, unlock asked 42 s later, confirmed by the door at 44.5 s.
        store_event(s, _ring(door, 1, T0), received_at=T0)
        _unlock(s, door, people["f"], T0 + timedelta(seconds=42), 1, AckOutcome.EXECUTED, 2.5)
        # Ring 2 at T0+2h, rung again 20 s later; the door opened at 65 s (no unlock).
        r2 = T0 + timedelta(hours=2)
        store_event(s, _ring(door, 2, r2), received_at=r2)
        store_event(
            s, _ring(door, 3, r2 + timedelta(seconds=20)), received_at=r2 + timedelta(seconds=20)
        )
        store_event(
            s, _opened(door, 4, r2 + timedelta(seconds=65)), received_at=r2 + timedelta(seconds=65)
        )
        # Ring 3 at T0+5h: nobody answered.
        r3 = T0 + timedelta(hours=5)
        store_event(s, _ring(door, 5, r3), received_at=r3)
        # Ring 4 the next day: the carer (may unlock) asked after 7 s; the door refused.
        r4 = T0 + timedelta(days=1)
        store_event(s, _ring(door, 6, r4), received_at=r4)
        _unlock(s, door, people["c"], r4 + timedelta(seconds=7), 2, AckOutcome.REJECTED, 1)
        # A break-glass unlock by the officer; and one by the family on 1 April, local time.
        bg = T0 + timedelta(days=2)
        cid = _unlock(s, door, people["o"], bg, 3, AckOutcome.EXECUTED, 1)
        append(
            s, AuditAction.UNLOCK_REQUESTED, actor=person_ref(people["o"]), at=bg,
            subjects=[device_ref(door), command_ref(cid)], details={"break_glass": "box-1"},
        )  # fmt: skip
        april = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 April in London (BST)
        _unlock(s, door, people["f"], april, 4, None, 0)
        # The other home's door rang too: never in home A's reports.
        store_event(s, _ring(far, 1, T0), received_at=T0)
        # Outages: 6 h on 10 Feb; 22:00 28 Feb -> 02:00 1 Mar; door2 off since 31 Mar 12:00.
        for device, down, up in (
            (door, datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 2, 10, 6, tzinfo=UTC)),
            (door, datetime(2026, 2, 28, 22, tzinfo=UTC), datetime(2026, 3, 1, 2, tzinfo=UTC)),
            (door2, datetime(2026, 3, 31, 12, tzinfo=UTC), None),
        ):
            raise_alert(s, AlertKind.DEVICE_OFFLINE, at=down, device_id=device)
            if up is not None:
                resolve_open_alert(s, AlertKind.DEVICE_OFFLINE, device, at=up)
    return World(db, home, other, door, door2, people["f"], people["c"], people["o"])


def _report(world: World, name: str, since: datetime, until: datetime):
    with world.db.read_session() as s:
        now = datetime(2026, 4, 10, tzinfo=UTC)
        return build_report(s, name, Scope({world.home}, since, until, now))


MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC))


def test_ring_answers_per_ring(world: World) -> None:
    rows = _report(world, "ring-answers", *MARCH).rows
    got = [(r["repeat"], r["answer"], r["answer_seconds"], r["unlock_seconds"]) for r in rows]
    assert got == [
        (False, "unlock_requested", 42.0, 44.5),
        (False, "door_opened", 65.0, None),
        (True, "door_opened", 45.0, None),
        (False, "", None, None),
        (False, "unlock_requested", 7.0, None),  # the door refused: no confirmation
    ]
    assert {r["device_id"] for r in rows} == {world.door}
    assert rows[0]["ring_at"] == "2026-03-10T09:00:00Z"


def test_ring_answer_summary_per_home(world: World) -> None:
    (row,) = _report(world, "ring-answer-summary", *MARCH).rows
    assert row == {
        "home_id": world.home,
        "rings": 4,
        "repeat_rings": 1,
        "answered": 3,
        "unanswered": 1,
        "median_answer_seconds": 42.0,
        "p90_answer_seconds": 65.0,
        "max_answer_seconds": 65.0,
    }


def test_unlocks_per_home_by_month_and_who(world: World) -> None:
    rows = _report(
        world,
        "unlocks-per-home",
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 5, tzinfo=UTC),
    ).rows
    slim = {(r["month"], r["who_kind"]): r for r in rows}
    assert set(slim) == {
        ("2026-03", "break_glass"),
        ("2026-03", "carer"),
        ("2026-03", "family"),
        ("2026-04", "family"),  # 23:30 UTC on 31 March is April in the home's time zone
    }
    assert slim[("2026-03", "family")]["acknowledged"] == 1
    assert slim[("2026-03", "carer")]["rejected"] == 1
    assert slim[("2026-03", "break_glass")]["requested"] == 1
    assert slim[("2026-04", "family")]["pending"] == 1


def test_unlocks_report_reads_only_its_homes_audit_entries(world: World) -> None:
    # Another home's break-glass unlock in the same window: home A's report must not
    # read it (the audit index names the doors), nor count it.
    far = "door-ccc333"
    at = T0 + timedelta(days=3)
    with world.db.session() as s:
        cid = _unlock(s, far, world.officer, at, 1, AckOutcome.EXECUTED, 1)
        other = append(
            s, AuditAction.UNLOCK_REQUESTED, actor=person_ref(world.officer), at=at,
            subjects=[device_ref(far), command_ref(cid)], details={"break_glass": "box-2"},
        ).seq  # fmt: skip
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 5, tzinfo=UTC)
    with entries_read(world.db) as (loaded, _statements):
        rows = _report(world, "unlocks-per-home", since, until).rows
    assert loaded, "home A's own unlock entries are read"
    assert other not in loaded
    assert sum(r["requested"] for r in rows if r["who_kind"] == "break_glass") == 1
    with world.db.read_session() as s:
        everywhere = build_report(s, "unlocks-per-home", Scope(None, since, until, until))
    glass = [r for r in everywhere.rows if r["who_kind"] == "break_glass"]
    assert {r["home_id"] for r in glass} == {world.home, world.other}


def test_device_uptime_per_month(world: World) -> None:
    rows = _report(
        world, "device-uptime", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    ).rows
    got = {(r["device_id"], r["month"]): r for r in rows}
    assert set(got) == {(world.door, "2026-02"), (world.door, "2026-03"), (world.door2, "2026-03")}
    feb = got[(world.door, "2026-02")]
    assert (feb["observed_seconds"], feb["offline_seconds"], feb["outages"]) == (
        28 * 86400,
        8 * 3600,
        2,
    )
    assert feb["uptime_percent"] == 98.81
    mar = got[(world.door, "2026-03")]
    assert (mar["offline_seconds"], mar["outages"], mar["uptime_percent"]) == (7200, 0, 99.731)
    new = got[(world.door2, "2026-03")]
    assert (new["observed_seconds"], new["offline_seconds"]) == (16 * 86400, 12 * 3600)
    assert new["uptime_percent"] == 96.875


def test_csv_and_json_carry_ids_only(world: World) -> None:
    report = _report(world, "ring-answers", *MARCH)
    text = to_csv(report)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == list(report.columns)
    assert parsed[0]["answer_seconds"] == "42.0"
    assert parsed[0]["repeat"] == "false"
    assert parsed[3]["answered_at"] == ""
    assert "Name-" not in text
    assert to_json(report)["rows"][0]["answer_seconds"] == 42.0


def test_unknown_report_and_empty_range_are_refused(world: World) -> None:
    from hub.errors import InvalidValue

    with pytest.raises(InvalidValue, match="choose one of"):
        _report(world, "nope", *MARCH)
    with pytest.raises(InvalidValue, match="before"):
        _report(world, "ring-answers", MARCH[1], MARCH[0])


def test_cli_writes_the_report_and_the_device_bundle_and_audits(
    world: World, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from fhir.resources.R4B.bundle import Bundle

    from doorstep.cli import main
    from hub.audit import entries

    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))
    url = world.db.url  # type: ignore[attr-defined]
    out = tmp_path / "summary.csv"
    argv = ["hub", "report", "ring-answer-summary", "--db", url, "--home", world.home]
    argv += ["--from", "2026-03-01", "--to", "2026-03-20", "--out", str(out)]
    assert main(argv) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["rings"], r["answered"], r["median_answer_seconds"]) for r in rows] == [
        ("4", "3", "42.0")
    ]
    devices = tmp_path / "devices.json"
    argv = ["hub", "export", "fhir-devices", "--db", url, "--home", world.home]
    assert main([*argv, "--out", str(devices)]) == 0
    bundle = Bundle.model_validate(json.loads(devices.read_text()))
    assert {e.resource.id for e in bundle.entry} == {world.door, world.door2}
    with world.db.read_session() as s:  # type: ignore[attr-defined]
        exported = [e.details["what"] for e in entries(s) if e.action == "export"]
    assert exported[-2:] == ["report:ring-answer-summary", "fhir_devices"]
    assert main(["hub", "report", "device-uptime", "--db", url, "--from", "2026-03-02",
                 "--to", "2026-03-01"]) == 2  # fmt: skip


class _SetClock:
    """The hub's clock: real time until a test sets it."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        from protocol import utcnow

        return self.at or utcnow()


def test_a_ring_answered_through_the_real_hub_after_known_seconds(database, plain_broker) -> None:
    from hub.storage import events_of
    from hub.storage.devices import get_device
    from tests.hubrt.rig import HubRig

    clock = _SetClock()
    # A short command lifetime: the door accepts a deadline at most 35 s ahead of its clock,
    # and the hub's clock runs ahead of it by the answer's seconds.
    rig = HubRig(database, plain_broker, clock=clock, command_lifetime_s=5)  # type: ignore[arg-type]
    rig.start()
    try:
        door = rig.add_device()
        _agent, board = rig.agent(door)

        def online() -> bool:
            with rig.db.read_session() as s:
                d = get_device(s, door)
                return d.health.value == "online" and d.monotonic_ms is not None

        assert rig.wait_until(online)
        board.ring()
        rings: list = []

        def stored() -> bool:
            with rig.db.read_session() as s:
                rings[:] = [e for e in events_of(s, door) if e.kind == "ring"]
            return bool(rings)

        assert rig.wait_until(stored)
        rang = rings[0].received_at
        clock.at = rang + timedelta(seconds=12)  # the family taps Unlock 12 s after the ring
        ticket = rig.hub.commands.request(door, "unlock", person_id=rig.family, hold_s=0.05)
        assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
        with rig.db.read_session() as s:
            scope = Scope(
                {rig.home}, rang - timedelta(minutes=1), rang + timedelta(minutes=1), rang
            )
            (row,) = build_report(s, "ring-answers", scope).rows
            (summary,) = build_report(s, "unlocks-per-home", scope).rows
    finally:
        rig.stop()
    assert (row["answer"], row["answer_seconds"]) == ("unlock_requested", 12.0)
    assert (summary["who_kind"], summary["acknowledged"]) == ("family", 1)
