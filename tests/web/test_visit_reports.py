"""The visits report (planned against actual) for a scenario whose answers are known:
two carers over three weeks of March, records made by the periodic job as the weeks went
by (its clock set by the test), read back as CSV and JSON through the API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.storage import create_command, create_home, mark_sent, register_device, store_event
from hub.storage.models_commands import Command, CommandStatus
from hub.storage.models_registry import Role
from hub.storage.visits import add_check_in, add_window
from hub.visit_records import VisitRecordsJob
from protocol.events import DoorbellRang, DoorClosed, DoorOpened, LockCause, LockChanged
from protocol.ids import new_device_id, new_message_id
from protocol.signing import public_key_pem
from tests.web.conftest import Web, log_in, make_person

FEB = datetime(2026, 2, 1, tzinfo=UTC)


def t(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, ss, tzinfo=UTC)  # London is on GMT in early March


@pytest.fixture(scope="module")
def scenario(web: Web) -> dict[str, Any]:
    db = web.rig.db
    with db.session() as s:
        home = create_home(s, name="Report home", timezone="Europe/London", at=FEB).id
        key = Ed25519PrivateKey.generate().public_key()
        device = register_device(
            s,
            device_id=new_device_id(),
            name="Front door",
            public_key_pem=public_key_pem(key).decode(),
            at=FEB,
            home_id=home,
        ).id
    ids = {
        "home": home,
        "device": device,
        "owner": make_person(web, "rp_owner", Role.FAMILY_OWNER, home),
        "bea": make_person(web, "bea", Role.CARER, home),
        "cal": make_person(web, "=cal", Role.CARER, home),  # a name a spreadsheet would run
    }
    seq = [0]

    def event(model: type, at: datetime, **fields: Any) -> None:
        seq[0] += 1
        e = model(
            device=device, id=new_message_id(), seq=seq[0], boot_id="ab" * 8, at=at,
            monotonic_ms=seq[0], **fields,
        )  # fmt: skip
        with db.session() as s:
            store_event(s, e, received_at=at)

    with db.session() as s:
        common = {"home_id": home, "tolerance_min": 15, "created_by": ids["owner"], "at": FEB}
        add_window(s, carer_id=ids["bea"], agency="Helping Hands", weekday=0,
                   start=time(9), end=time(9, 30), **common)  # fmt: skip
        common["tolerance_min"] = 10
        cal = add_window(s, carer_id=ids["cal"], agency="Carers Co", on_date=date(2026, 3, 3),
                         start=time(18), end=time(18, 30), **common).id  # fmt: skip
        create_command(s, command_id=(command := new_message_id()), device_id=device,
                       action="unlock", counter=1, requested_by=ids["owner"], reason="",
                       at=t(2, 9, 6))  # fmt: skip
        mark_sent(s, command, t(2, 9, 6))
        # The device's signed answer is tested elsewhere; here only its outcome matters.
        s.get(Command, command).status = CommandStatus.ACKNOWLEDGED
        add_check_in(s, cal, ids["cal"], at=t(3, 18, 12))
    # Monday 2nd: rings, let in, leaves; Monday 9th: rings late; Monday 16th: nobody.
    event(DoorbellRang, t(2, 9, 5))
    event(LockChanged, t(2, 9, 6), state="released", cause=LockCause.COMMAND, command_id=command)
    event(DoorOpened, t(2, 9, 6, 10))
    event(LockChanged, t(2, 9, 6, 20), state="engaged", cause=LockCause.RELOCK_TIMER)
    event(DoorClosed, t(2, 9, 6, 30))
    event(DoorOpened, t(2, 9, 40))
    event(DoorClosed, t(2, 9, 40, 30))
    event(DoorbellRang, t(9, 9, 20))
    for day in (3, 10, 17):  # the hub's job, as it ran each week
        VisitRecordsJob(db, web.rig.hub.bus, clock=lambda day=day: t(day, 20, 0)).run()
    return ids


EXPECTED_CSV = """\
date,carer_id,carer,agency,planned_start,planned_end,tolerance_min,status,arrival,arrival_via,entry,departure,duration_s,late,missed
2026-03-02,{bea},Bea,Helping Hands,2026-03-02T09:00:00+00:00,2026-03-02T09:30:00+00:00,15,completed,2026-03-02T09:05:00+00:00,ring,2026-03-02T09:06:10+00:00,2026-03-02T09:40:30+00:00,2060,no,no
2026-03-03,{cal},'=Cal,Carers Co,2026-03-03T18:00:00+00:00,2026-03-03T18:30:00+00:00,10,arrived,2026-03-03T18:12:00+00:00,check_in,,,,yes,no
2026-03-09,{bea},Bea,Helping Hands,2026-03-09T09:00:00+00:00,2026-03-09T09:30:00+00:00,15,arrived,2026-03-09T09:20:00+00:00,ring,,,,yes,no
2026-03-16,{bea},Bea,Helping Hands,2026-03-16T09:00:00+00:00,2026-03-16T09:30:00+00:00,15,missed,,,,,,no,yes
"""  # noqa: E501


def test_csv_report_gives_the_known_answers(web: Web, scenario: dict[str, Any]) -> None:
    client, _csrf = log_in(web, "rp_owner")
    r = client.get(
        f"/api/homes/{scenario['home']}/reports/visits",
        params={"from": "2026-03-01", "to": "2026-03-16", "format": "csv"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="visits-2026-03-01-2026-03-16.csv"' in r.headers["content-disposition"]
    expected = EXPECTED_CSV.format(**scenario).replace("\n", "\r\n")
    assert r.text == expected
    assert len(list(csv.DictReader(io.StringIO(r.text)))) == 4


def test_json_report_one_carer_and_a_narrower_range(web: Web, scenario: dict[str, Any]) -> None:
    client, _csrf = log_in(web, "rp_owner")
    r = client.get(
        f"/api/homes/{scenario['home']}/reports/visits",
        params={"from": "2026-03-03", "to": "2026-03-31", "carer": scenario["bea"]},
    )
    assert r.status_code == 200, r.text
    visits = r.json()["visits"]
    assert [(v["date"], v["status"], v["late"], v["missed"]) for v in visits] == [
        ("2026-03-09", "arrived", True, False),
        ("2026-03-16", "missed", False, True),
    ]  # later Mondays: the hub was not running then (the job looks back a week at most)


def test_who_may_read_it_and_what_range(web: Web, scenario: dict[str, Any]) -> None:
    path = f"/api/homes/{scenario['home']}/reports/visits"
    carer, _ = log_in(web, "bea")
    assert carer.get(path, params={"from": "2026-03-01", "to": "2026-03-02"}).status_code == 403
    stranger, _ = log_in(web, "stranger")
    assert stranger.get(path, params={"from": "2026-03-01", "to": "2026-03-02"}).status_code == 403
    owner, _ = log_in(web, "rp_owner")
    assert owner.get(path, params={"from": "2026-03-02", "to": "2026-03-01"}).status_code == 422
    assert owner.get(path, params={"from": "2025-01-01", "to": "2026-03-01"}).status_code == 422
    assert owner.get(path, params={"from": "0001-01-01", "to": "0001-01-02"}).status_code == 422
    r = owner.get(path, params={"from": "2026-03-01", "to": "2026-03-01", "format": "xml"})
    assert r.status_code == 422
    assert owner.get(path, params={"from": "2026-03-01", "to": "2026-03-01"}).json()["visits"] == []
