"""Export and report routes over a real hub: who may fetch what, the formats, the audit."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from hub.audit import entries
from hub.storage.devices import assign_home
from hub.storage.models_registry import Role
from tests.web.conftest import Web, log_in, make_person, wait_online


@pytest.fixture(scope="module")
def scene(web: Web) -> dict[str, Any]:
    """A door in the home with one acknowledged unlock; a door in the other home."""
    rig = web.rig
    door = rig.add_device()
    rig.agent(door)
    wait_online(rig, door)
    ticket = rig.hub.commands.request(door, "unlock", person_id=rig.family, hold_s=0.05)
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    far = rig.add_device()
    with rig.db.session() as s:
        assign_home(s, far, rig.other_home)
    admin = make_person(web, "admin1", Role.ADMIN, rig.home)
    return {"door": door, "far": far, "command": ticket.id, "admin": admin}


def _exports(web: Web) -> list[dict[str, Any]]:
    with web.rig.db.read_session() as s:
        return [e.details | {"actor": e.actor} for e in entries(s) if e.action == "export"]


def test_family_exports_their_homes_unlocks_as_fhir(web: Web, scene: dict[str, Any]) -> None:
    client, _ = log_in(web, "anna")
    r = client.get(f"/api/homes/{web.rig.home}/export/fhir/audit-events")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(r.json())
    steps = [e.resource.subtype[1].code for e in bundle.entry]
    assert steps == ["unlock_requested", "command_sent", "command_acknowledged"]
    assert scene["command"] in r.text
    assert _exports(web)[-1]["what"] == "fhir_audit_events"
    assert _exports(web)[-1]["count"] == 3
    # Another home's family may not; nor may a narrow range end before it starts.
    stranger, _ = log_in(web, "stranger")
    assert stranger.get(f"/api/homes/{web.rig.home}/export/fhir/audit-events").status_code == 403
    bad = client.get(
        f"/api/homes/{web.rig.home}/export/fhir/audit-events",
        params={"from": "2026-02-01", "to": "2026-01-01"},
    )
    assert bad.status_code == 422
    for edge in ({"to": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "0001-01-01"}):
        r = client.get("/api/admin/reports/ring-answers", params=edge)
        assert r.status_code in (403, 422), (edge, r.status_code)  # never a server error
        r = client.get(f"/api/homes/{web.rig.home}/export/fhir/audit-events", params=edge)
        assert r.status_code == 422, (edge, r.status_code)


def test_admin_exports_their_homes_devices(web: Web, scene: dict[str, Any]) -> None:
    client, _ = log_in(web, "admin1")
    r = client.get("/api/admin/export/fhir/devices")
    assert r.status_code == 200, r.text
    bundle = Bundle.model_validate(r.json())
    ids = {e.resource.id for e in bundle.entry}
    assert scene["door"] in ids
    assert scene["far"] not in ids  # the other home is not theirs
    assert _exports(web)[-1] == {
        "what": "fhir_devices",
        "count": len(ids),
        "actor": f"person:{scene['admin']}",
    }
    family, _ = log_in(web, "anna")
    assert family.get("/api/admin/export/fhir/devices").status_code == 403


def test_admin_reports_as_csv_and_json(web: Web, scene: dict[str, Any]) -> None:
    client, _ = log_in(web, "admin1")
    r = client.get("/api/admin/reports/unlocks-per-home", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["home_id"], x["who_kind"], x["acknowledged"]) for x in rows] == [
        (web.rig.home, "family", "1")
    ]
    j = client.get("/api/admin/reports/ring-answer-summary", params={"format": "json"})
    assert j.status_code == 200
    assert j.json()["report"] == "ring-answer-summary"
    assert "home_id" in j.json()["columns"]
    last = _exports(web)[-1]
    assert (last["what"], last["format"]) == ("report:ring-answer-summary", "json")
    assert (
        client.get("/api/admin/reports/device-uptime", params={"format": "xml"}).status_code == 422
    )
    for edge in (
        {"to": "0001-01-01"},
        {"to": "9999-12-31"},
        {"from": "2026-02-01", "to": "2026-01-01"},
    ):
        r = client.get("/api/admin/reports/ring-answers", params=edge)
        assert r.status_code == 422, (edge, r.status_code)  # never a server error
    family, _ = log_in(web, "anna")
    assert family.get("/api/admin/reports/device-uptime").status_code == 403
