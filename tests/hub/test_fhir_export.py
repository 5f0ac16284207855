"""Unlocks as FHIR R4 AuditEvents and doors as FHIR Devices, from a scenario run through a
real broker, the real hub and a real edge agent that acknowledges (or refuses) the unlock."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device

from hub.exports.fhir import FhirExportError, bundle, unlock_audit_events
from hub.exports.fhir_devices import device_resources
from hub.storage import get_command
from hub.storage.devices import get_device
from protocol import utcnow
from tests.hubrt.rig import HubRig

PERSON_SYSTEM = "urn:doorstep:ref:person"


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker).start()
    yield r
    r.stop()




def _events(rig: HubRig) -> list[dict]:
    now = utcnow()
    with rig.db.read_session() as s:
        return unlock_audit_events(s, rig.home, now - timedelta(hours=1), now + timedelta(hours=1))


def _persons(event: dict) -> list[str]:
    return [
        a["who"]["identifier"]["value"]
        for a in event["agent"]
        if a["who"].get("identifier", {}).get("system") == PERSON_SYSTEM
    ]


def test_an_acknowledged_unlock_is_three_valid_audit_events(rig: HubRig) -> None:
    device = rig.add_device()
    rig.agent(device)
    rig.wait_online(device)
    ticket = rig.hub.commands.request(
        device, "unlock", person_id=rig.family, reason="carer at the door"
    )
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    # A snapshot command to the same door is not an unlock: not exported.
    snap = rig.hub.commands.request(device, "snapshot", person_id=rig.family)
    rig.hub.commands.wait(snap.id, timeout=5)

    events = _events(rig)
    made = bundle(events, now=utcnow())
    parsed = Bundle.model_validate(made)
    assert parsed.type == "collection"
    assert all(isinstance(e.resource, AuditEvent) for e in parsed.entry)
    steps = [e["subtype"][1]["code"] for e in events]
    assert steps == ["unlock_requested", "command_sent", "command_acknowledged"]
    requested, sent, acked = events
    for event in events:
        AuditEvent.model_validate(event)
        assert event["type"]["code"] == "110113"
        assert event["subtype"][0]["code"] == "110132"  # use of restricted function
        # who asked: by id, as the family member they are, never by name
        assert _persons(event) == [rig.family]
        doors = [x["what"].get("reference") for x in event["entity"]]
        assert f"Device/{device}" in doors
        commands = [
            x["what"]["identifier"]["value"]
            for x in event["entity"]
            if x["what"].get("identifier", {}).get("system") == "urn:doorstep:ref:command"
        ]
        assert commands == [ticket.id]
        assert event["outcome"] == "0"
    assert requested["purposeOfEvent"] == [{"text": "carer at the door"}]
    person = next(a for a in requested["agent"] if a["requestor"])
    assert person["who"]["type"] == "RelatedPerson"
    assert person["role"][0]["coding"][0]["code"] == "family_member"
    # The acknowledgement: the door is an agent, and its signed answer travels verbatim.
    door_agent = next(a for a in acked["agent"] if not a["requestor"])
    assert door_agent["who"]["reference"] == f"Device/{device}"
    command_entity = next(
        x for x in acked["entity"] if "detail" in x and x["detail"][0]["type"] == "action"
    )
    details = {d["type"]: d for d in command_entity["detail"]}
    signed = json.loads(base64.b64decode(details["signed_ack"]["valueBase64Binary"]))
    with rig.db.read_session() as s:
        assert signed["sig"] == get_command(s, ticket.id).ack_signature
    assert details["status"]["valueString"] == "acknowledged"
    assert "Anna" not in json.dumps(made)
    assert sent["recorded"] <= acked["recorded"]


def test_a_refused_unlock_is_a_minor_failure_with_the_doors_reason(rig: HubRig) -> None:
    device = rig.add_device()
    rig.agent(device)
    rig.wait_online(device)
    with rig.db.session() as s:  # the hub believes in an older boot: the door must refuse
        get_device(s, device).boot_id = "0" * 16
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family)
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "rejected"
    events = _events(rig)
    refused = events[-1]
    AuditEvent.model_validate(refused)
    assert refused["subtype"][1]["code"] == "command_rejected"
    assert refused["outcome"] == "4"
    assert "stale_boot" in refused["outcomeDesc"]


def test_devices_as_fhir_devices_with_home_and_versions(rig: HubRig) -> None:
    device = rig.add_device()
    rig.agent(device)
    rig.wait_online(device)
    with rig.db.read_session() as s:
        mine = device_resources(s, {rig.home})
        others = device_resources(s, {rig.other_home})
    assert others == []
    (resource,) = mine
    parsed = Device.model_validate(resource)
    assert parsed.id == device
    assert resource["identifier"] == [{"system": "urn:doorstep:ref:device", "value": device}]
    assert resource["status"] == "active"
    assert resource["statusReason"][0]["coding"][0]["code"] == "online"
    assert resource["location"]["identifier"]["value"] == rig.home
    assert resource["owner"]["type"] == "Organization"
    assert {v["type"]["text"] for v in resource["version"]} == {"software", "protocol"}
    Bundle.model_validate(bundle(mine, now=utcnow()))


def test_an_invalid_resource_is_refused_before_it_leaves() -> None:
    with pytest.raises(FhirExportError, match="AuditEvent"):
        bundle([{"resourceType": "AuditEvent", "id": "x", "agent": [{"who": {}}]}], now=utcnow())
