"""Privacy through the API, a real hub, a real broker and real edge agents (simulated boards).

- the privacy switch: owner only; a signed command; the hub shows what the door reports;
  a ring while it is on carries no picture; live view is refused (409 at the hub, and by
  the door itself when the hub's view is stale); it survives an agent restart; off again,
  pictures resume;
- the consent record and the reviews due;
- subject-access export and erasure (step-up needed; audit chain verifies after);
- a carer's check-in cues the door: indicator pattern and announcement with their name.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from edge.agent import EdgeAgent
from edge.options import AgentOptions
from edge.outbox import Outbox
from hardware.interfaces import IndicatorPattern
from hub.audit import entries, stored_checkpoints, verify
from hub.retention import RetentionJob
from hub.storage import events_of, get_command, get_snapshot, snapshots_for_event
from hub.storage.devices import get_device
from hub.storage.models_registry import Device, Role
from hub.storage.visits import add_window
from protocol import (
    DeviceState,
    DoorState,
    LockState,
    PrivacyChanged,
    encode,
    new_message_id,
    utcnow,
)
from protocol.mqtt import LinkSettings
from tests.web.conftest import PASSWORD, Web, log_in, make_person, wait_online

OPTIONS = {"hold_s": 0.3, "cooldown_s": 0.05, "heartbeat_s": 3600, "frame_interval_s": 0.05}


def _rings(web: Web, device: str) -> list[Any]:
    with web.rig.db.read_session() as s:
        return [e for e in events_of(s, device) if e.kind == "ring"]


def _ring_and_store(web: Web, device: str, board: Any) -> dict[str, Any]:
    """Press the bell; the ring as the hub stored it, with its snapshots' ids."""
    before = len(_rings(web, device))
    time.sleep(0.06)  # past the door's re-ring cooldown
    board.ring()
    assert web.rig.wait_until(lambda: len(_rings(web, device)) > before)
    ring = _rings(web, device)[-1]
    with web.rig.db.read_session() as s:
        pictures = [p.id for p in snapshots_for_event(s, ring.event_id)]
    return {"snapshot_id": ring.payload.get("snapshot_id"), "pictures": pictures}


def _privacy_is(web: Web, device: str, value: bool) -> bool:
    def reported() -> bool:
        with web.rig.db.read_session() as s:
            return get_device(s, device).privacy is value

    return web.rig.wait_until(reported)


def _switch(client: Any, csrf: dict[str, str], web: Web, device: str, on: bool) -> None:
    r = client.post(f"/api/doors/{device}/privacy", headers=csrf, json={"privacy": on})
    assert r.status_code == 202, r.text
    assert web.rig.hub.commands.wait(r.json()["command_id"], timeout=5) == "acknowledged"
    assert _privacy_is(web, device, on)


def _restart(web: Web, agent: EdgeAgent, board: Any, device: str) -> EdgeAgent:
    """Stop the agent and start a new one on the same board and the same durable state."""
    path = agent.outbox.path
    agent.stop()
    rig = web.rig
    fresh = EdgeAgent(
        device,
        board.hardware,
        LinkSettings(host=rig.broker.host, port=rig.broker.port, client_id=device),
        Outbox(path),
        rig.signer.public_key(),
        rig.device_keys[device],
        AgentOptions(**OPTIONS),
    )
    fresh.start()
    assert fresh.link.wait_connected(5)
    rig.agents.append((fresh, board))
    return fresh


def test_privacy_switch_stops_pictures_at_the_door_and_survives_a_restart(web: Web) -> None:
    rig = web.rig
    device = rig.add_device()
    agent, board = rig.agent(device, **OPTIONS)
    board.visitor = True
    wait_online(rig, device)
    owner = make_person(web, "privowner", Role.FAMILY_OWNER, rig.home)
    client, csrf = log_in(web, "privowner")
    member, member_csrf = log_in(web, "anna")
    assert _ring_and_store(web, device, board)["pictures"], "pictures before the switch"

    r = member.post(f"/api/doors/{device}/privacy", headers=member_csrf, json={"privacy": True})
    assert r.status_code == 403  # a family member may not; the owner may
    _switch(client, csrf, web, device, True)
    doors = client.get(f"/api/homes/{rig.home}/privacy").json()
    assert [d["privacy"] for d in doors if d["device"] == device] == [True]

    def stored_change() -> bool:
        with rig.db.read_session() as s:
            return "privacy_changed" in [e.kind for e in events_of(s, device)]

    assert rig.wait_until(stored_change)  # the door's own event, stored by the hub
    with rig.db.read_session() as s:
        sent = [e for e in entries(s) if e.action == "command_sent"]
    assert sent[-1].actor == f"person:{owner}"
    assert sent[-1].details["action"] == "set_privacy"

    ring = _ring_and_store(web, device, board)
    assert ring == {"snapshot_id": None, "pictures": []}
    r = client.post(f"/api/doors/{device}/live", headers=csrf, json={"seconds": 5})
    assert r.status_code == 409
    assert "privacy" in r.json()["detail"]

    # Even if the hub's view were stale, the door itself refuses.
    with rig.db.session() as s:
        s.execute(update(Device).where(Device.id == device).values(privacy=False))
    r = client.post(f"/api/doors/{device}/live", headers=csrf, json={"seconds": 5})
    assert r.status_code == 202
    command_id = r.json()["command_id"]
    assert rig.hub.commands.wait(command_id, timeout=5) == "rejected"
    with rig.db.read_session() as s:
        assert get_command(s, command_id).reject_reason == "privacy"
    with rig.db.session() as s:
        s.execute(update(Device).where(Device.id == device).values(privacy=True))

    agent = _restart(web, agent, board, device)
    assert agent.privacy is True
    assert _ring_and_store(web, device, board) == {"snapshot_id": None, "pictures": []}

    _switch(client, csrf, web, device, False)
    time.sleep(0.3)  # the door's frame buffer refills once the camera resumes
    ring = _ring_and_store(web, device, board)
    assert ring["snapshot_id"] is not None
    assert ring["pictures"] == [ring["snapshot_id"]]


def test_consent_record_history_and_reviews_due(web: Web) -> None:
    rig = web.rig
    make_person(web, "consentowner", Role.FAMILY_OWNER, rig.home)
    client, csrf = log_in(web, "consentowner")
    today = web.clock().date()
    body = {
        "basis": "best_interests",
        "decided_by": "J. Patel, social worker",
        "scope": ["snapshots", "visit_records"],
        "consented_on": (today - timedelta(days=300)).isoformat(),
        "review_on": (today + timedelta(days=10)).isoformat(),
    }
    bad = client.post(
        f"/api/homes/{rig.home}/consent", headers=csrf, json=body | {"decided_by": None}
    )
    assert bad.status_code == 422
    assert "who made it" in bad.text
    r = client.post(f"/api/homes/{rig.home}/consent", headers=csrf, json=body)
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["review_due"] is False
    got = client.get(f"/api/homes/{rig.home}/consent").json()
    assert got["current"]["consent_id"] == record["consent_id"]
    assert got["current"]["decided_by"] == "J. Patel, social worker"

    member, _ = log_in(web, "anna")  # a family member: no consent records
    assert member.get(f"/api/homes/{rig.home}/consent").status_code == 403
    officer, _ = log_in(web, "officer")  # telecare sees reviews due, not the record
    assert officer.get(f"/api/homes/{rig.home}/consent").status_code == 403
    due = officer.get("/api/consent/reviews-due", params={"within_days": 30}).json()
    mine = [d for d in due if d["home"] == rig.home]
    assert [d["consent_id"] for d in mine] == [record["consent_id"]]
    assert mine[0]["overdue"] is False
    assert officer.get("/api/consent/reviews-due", params={"within_days": 5}).json() == []


def test_export_and_erasure_through_the_api(web: Web) -> None:
    rig = web.rig
    make_person(web, "privadmin", Role.ADMIN, rig.home)
    carer = make_person(web, "erasedcarer", Role.CARER, rig.home)
    admin, csrf = log_in(web, "privadmin")

    r = admin.get(f"/api/admin/people/{carer}/export")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert json.loads(zf.read("person.json"))["display_name"] == "Erasedcarer"

    assert admin.post(f"/api/admin/people/{carer}/erase", headers=csrf).status_code == 403
    admin, csrf = log_in(web, "privadmin", step_up=True)
    r = admin.post(f"/api/admin/people/{carer}/erase", headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json()["already_erased"] is False

    login = web.client_for().post(
        "/api/login", json={"username": "erasedcarer", "password": PASSWORD, "totp": "000000"}
    )
    assert login.status_code in (401, 403)
    people = admin.get("/api/admin/people").json()
    assert carer not in [p["person_id"] for p in people]
    assert "Erasedcarer" not in json.dumps(people)
    r = admin.get(f"/api/admin/people/{carer}/export")
    assert r.status_code == 200  # the admin of the homes they were in may still ask
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert zf.read("person.json") == b"null"
    assert "Erasedcarer" not in "".join(zf.read(n).decode() for n in zf.namelist())
    with rig.db.read_session() as s:
        report = verify(rig.db, stored_checkpoints(s), rig.signer.public_key())
    assert report.ok, report.summary()


def test_a_check_in_cues_the_door_with_the_carers_name(web: Web) -> None:
    rig = web.rig
    root = Path(tempfile.mkdtemp(prefix="doorstep-cue-"))
    script, said = root / "say.sh", root / "said.txt"
    script.write_text('printf "%s\\n" "$2" >> "$1"\n')
    device = rig.add_device()
    _agent, board = rig.agent(
        device, **OPTIONS, announce_command=("/bin/sh", str(script), str(said), "{text}")
    )
    wait_online(rig, device)
    carer = make_person(web, "cuecarer", Role.CARER, rig.home)
    start = (utcnow() - timedelta(minutes=10)).astimezone(ZoneInfo("Europe/London"))
    with rig.db.session() as s:
        window = add_window(
            s,
            home_id=rig.home,
            carer_id=carer,
            agency="Helping Hands",
            weekday=start.weekday(),
            start=start.time().replace(second=0, microsecond=0),
            end=(start + timedelta(hours=1)).time().replace(second=0, microsecond=0),
            tolerance_min=15,
            created_by=carer,
            at=utcnow(),
        )
    client, csrf = log_in(web, "cuecarer")
    r = client.post(f"/api/visits/{window.id}/check-in", headers=csrf)
    assert r.status_code == 201, r.text

    def announced() -> bool:
        return said.exists() and "Cuecarer, your carer, is at the door" in said.read_text()

    assert rig.wait_until(announced)
    assert board.indicator.current is IndicatorPattern.NOTIFYING
    with rig.db.read_session() as s:
        cue = [e for e in entries(s) if e.action == "command_sent"][-1]
    assert cue.details["action"] == "cue"
    assert cue.actor == f"person:{carer}"


def test_a_homes_retention_is_set_by_the_owner_and_enforced_by_the_job(web: Web) -> None:
    rig = web.rig
    device = rig.add_device()
    _agent, board = rig.agent(device, **OPTIONS)
    board.visitor = True
    wait_online(rig, device)
    make_person(web, "retentionowner", Role.FAMILY_OWNER, rig.home)
    client, csrf = log_in(web, "retentionowner")
    picture = _ring_and_store(web, device, board)["pictures"][0]
    with rig.db.read_session() as s:
        sha = get_snapshot(s, picture).sha256

    member, member_csrf = log_in(web, "anna")
    refused = member.put(f"/api/homes/{rig.home}/retention", headers=member_csrf, json={"days": 1})
    assert refused.status_code == 403
    r = client.put(f"/api/homes/{rig.home}/retention", headers=csrf, json={"days": 7})
    assert r.status_code == 200, r.text
    assert client.get(f"/api/homes/{rig.home}/consent").json()["retention_days"] == 7
    with rig.db.read_session() as s:
        changed = [e for e in entries(s) if e.action == "retention_changed"][-1]
    assert changed.details["after_days"] == 7

    # The hub's own retention job, run with its clock 6 and then 8 days ahead.
    for days, kept in ((6, True), (8, False)):
        job = RetentionJob(rig.db, rig.hub.files, clock=lambda d=days: utcnow() + timedelta(d))
        job.run()
        with rig.db.read_session() as s:
            assert (get_snapshot(s, picture) is not None) is kept, days
        assert rig.hub.files.exists(sha) is kept


def test_the_hub_takes_the_switch_from_the_doors_event_newest_state_winning(web: Web) -> None:
    rig = web.rig
    device = rig.add_device()
    link = rig.device_link(device, will=False)
    head = {"device": device, "boot_id": "ab" * 8, "at": utcnow(), "monotonic_ms": 5}

    def event(seq: int, privacy: bool) -> None:
        change = PrivacyChanged(id=new_message_id(), seq=seq, privacy=privacy, **head)
        link.publish(encode(change)).wait_for_publish(5)

    event(1, True)  # the event alone, no retained state (yet)
    assert _privacy_is(web, device, True)
    state = DeviceState(
        device=device,
        lock=LockState.ENGAGED,
        door=DoorState.CLOSED,
        privacy=False,
        boot_id="ab" * 8,
        at=utcnow(),
        seq=3,
    )
    link.publish(encode(state)).wait_for_publish(5)
    assert _privacy_is(web, device, False)
    event(2, True)  # late, older than the state already stored: changes nothing

    def both_stored() -> bool:
        with rig.db.read_session() as s:
            return len(events_of(s, device)) == 2

    assert rig.wait_until(both_stored)  # its reaction ran in the same transaction
    with rig.db.read_session() as s:
        assert get_device(s, device).privacy is False
