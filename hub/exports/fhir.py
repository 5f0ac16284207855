"""Unlocks as HL7 FHIR R4 ``AuditEvent`` resources and doors as FHIR ``Device``, in a Bundle.

Every resource is checked against the R4 models of ``fhir.resources`` (its ``R4B``
package: AuditEvent and Device did not change between R4 and R4B) before it leaves
the hub. People appear only by id (``urn:doorstep:ref:person``), never by name; the
door is a literal ``Device/<id>`` reference, so a receiver can join the two exports.

    with db.read_session() as s:
        bundle = unlock_bundle(s, home_id, since, until, now=utcnow())
        devices = device_bundle(s, homes=None, now=utcnow())
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..audit.actions import AuditAction, RefKind, device_ref, split_ref
from ..audit.chain import format_time
from ..audit.export import (
    ACTION_SYSTEM,
    DCM,
    ENTITY_TYPE,
    chain_entity,
    fhir_audit_event,
    fhir_coding,
    fhir_identifier,
)
from ..errors import HubError
from ..storage.audit_recent import audit_rows_naming_between
from ..storage.audit_rows import AuditRow
from ..storage.models_commands import Command
from ..storage.reports import commands_by_id, devices_in, roles_in_homes

A = AuditAction
ROLE_SYSTEM = "urn:doorstep:role"
SECURITY_ROLE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"

UNLOCK_ACTIONS = frozenset(
    {
        A.UNLOCK_REQUESTED,
        A.COMMAND_SENT,
        A.COMMAND_ACKNOWLEDGED,
        A.COMMAND_REJECTED,
        A.COMMAND_TIMED_OUT,
        A.BREAK_GLASS,
    }
)
# A remote unlock is the use of a restricted function (DICOM 110132); break-glass is
# an emergency override (110127). Both sit under 110113 "Security Alert".
_TYPE = ("110113", "Security Alert")
_SUBTYPE = {A.BREAK_GLASS: ("110127", "Emergency Override Started")}
_DEFAULT_SUBTYPE = ("110132", "Use of Restricted Function")
_PERSON_TYPE = {
    "family_owner": "RelatedPerson",
    "family_member": "RelatedPerson",
    "carer": "Practitioner",
    "telecare_officer": "Practitioner",
    "admin": "Practitioner",
}


class FhirExportError(HubError):
    """A resource we built does not validate as FHIR R4: a bug to report, not bad input."""


def _person_agent(person: str, roles: set[str], *, requestor: bool) -> dict[str, Any]:
    who: dict[str, Any] = {"identifier": fhir_identifier("person", person)}
    types = {_PERSON_TYPE[r] for r in roles if r in _PERSON_TYPE}
    if len(types) == 1:
        who["type"] = types.pop()
    agent: dict[str, Any] = {
        "type": {"coding": [fhir_coding(SECURITY_ROLE, "humanuser", "human user")]},
        "who": who,
        "requestor": requestor,
    }
    if roles:
        agent["role"] = [{"coding": [fhir_coding(ROLE_SYSTEM, r)]} for r in sorted(roles)]
    return agent


def _device_reference(device_id: str) -> dict[str, Any]:
    return {
        "reference": f"Device/{device_id}",
        "type": "Device",
        "identifier": fhir_identifier("device", device_id),
    }


def _agents(row: AuditRow, command: Command | None, roles: RoleLookup) -> list[dict[str, Any]]:
    kind, ident = split_ref(row.actor)
    agents: list[dict[str, Any]] = []
    requester = command.requested_by if command is not None else None
    if kind is RefKind.PERSON:
        agents.append(_person_agent(ident, roles(ident), requestor=True))
    elif kind is RefKind.DEVICE:
        # The door answered; the person who asked stays the requestor of the unlock.
        agents.append(
            {
                "type": {"coding": [fhir_coding(DCM, "110153", "Source Role ID")]},
                "who": _device_reference(ident),
                "requestor": False,
            }
        )
        if requester:
            agents.append(_person_agent(requester, roles(requester), requestor=True))
    else:
        who = {"identifier": fhir_identifier(kind.value, ident)}
        agents.append({"who": who, "requestor": kind is not RefKind.SERVICE})
    return agents


def _command_entity(row: AuditRow, command_id: str, command: Command | None) -> dict[str, Any]:
    detail: list[dict[str, str]] = []
    if command is not None:
        detail.append({"type": "action", "valueString": command.action})
        detail.append({"type": "counter", "valueString": str(command.counter)})
        detail.append({"type": "status", "valueString": command.status.value})
    signed = row.details.get("signed_ack")
    if signed:  # the device's own signed confirmation, verbatim (base64 of its JSON)
        raw = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
        detail.append({"type": "signed_ack", "valueBase64Binary": base64.b64encode(raw).decode()})
    entity: dict[str, Any] = {
        "what": {"identifier": fhir_identifier("command", command_id)},
        "type": fhir_coding(ENTITY_TYPE, "2", "System Object"),
    }
    if detail:
        entity["detail"] = detail
    return entity


class RoleLookup:
    """A person's roles in the home being exported (as they are now)."""

    def __init__(self, roles: dict[tuple[str, str], set[str]], home_id: str) -> None:
        self.roles = roles
        self.home_id = home_id

    def __call__(self, person: str) -> set[str]:
        return self.roles.get((person, self.home_id), set())


def unlock_audit_event(
    row: AuditRow,
    command: Command | None,
    roles: RoleLookup,
    *,
    site: str = "doorstep-hub",
) -> dict[str, Any]:
    """One unlock step (requested, sent, acknowledged, rejected, timed out) as an AuditEvent.

    The audit log's own mapping (``fhir_audit_event``: id, time, outcome, chain) with
    what only this export knows: the unlock codes, the door as a ``Device``, the command
    and its signed answer, and the asking person's roles in the home.
    """
    action = AuditAction(row.action)
    subtype = _SUBTYPE.get(action, _DEFAULT_SUBTYPE)
    if row.details.get("break_glass"):  # an unlock inside an officer's break-glass box
        subtype = _SUBTYPE[A.BREAK_GLASS]
    entities: list[dict[str, Any]] = []
    for subject in row.subjects:
        kind, ident = split_ref(subject)
        if kind is RefKind.DEVICE:
            entities.append(
                {
                    "what": _device_reference(ident),
                    "type": fhir_coding(ENTITY_TYPE, "2", "System Object"),
                }
            )
        elif kind is RefKind.COMMAND:
            entities.append(_command_entity(row, ident, command))
        else:
            entities.append(
                {
                    "what": {"identifier": fhir_identifier(kind.value, ident)},
                    "type": fhir_coding(ENTITY_TYPE, "4", "Other"),
                }
            )
    entities.append(chain_entity(row))
    event = fhir_audit_event(row, site=site)
    event["type"] = fhir_coding(DCM, *_TYPE)
    event["subtype"] = [fhir_coding(DCM, *subtype), fhir_coding(ACTION_SYSTEM, action.value)]
    event["action"] = "E"
    event["agent"] = _agents(row, command, roles)
    event["entity"] = entities
    reason = row.details.get("reason") if action is A.UNLOCK_REQUESTED else None
    if reason:  # why, as the person typed it (free text)
        event["purposeOfEvent"] = [{"text": str(reason)}]
    return event


def unlock_audit_events(
    session: Session,
    home_id: str,
    since: datetime,
    until: datetime,
    *,
    site: str = "doorstep-hub",
) -> list[dict[str, Any]]:
    """Every audited step of every unlock of this home's doors recorded in [since, until)."""
    doors = {device_ref(d.id) for d in devices_in(session, {home_id})}
    # Through the reference index: entries naming one of these doors (as subject or
    # actor), not every home's unlocks filtered here.
    actions = [a.value for a in UNLOCK_ACTIONS]
    rows = audit_rows_naming_between(session, doors, actions, since, until)
    command_ids = {
        ident for r in rows for kind, ident in map(split_ref, r.subjects) if kind is RefKind.COMMAND
    }
    commands = commands_by_id(session, command_ids)
    people = {c.requested_by for c in commands.values()}
    people |= {i for k, i in (split_ref(r.actor) for r in rows) if k is RefKind.PERSON}
    roles = RoleLookup(roles_in_homes(session, people, {home_id}), home_id)
    out = []
    for row in rows:
        ids = [i for k, i in map(split_ref, row.subjects) if k is RefKind.COMMAND]
        command = commands.get(ids[0]) if ids else None
        if ids and (command is None or command.action != "unlock"):
            continue  # a snapshot or live-view command: not an unlock
        if not ids and row.action != A.BREAK_GLASS.value:
            continue
        out.append(unlock_audit_event(row, command, roles, site=site))
    return out


def bundle(resources: Iterable[dict[str, Any]], *, now: datetime) -> dict[str, Any]:
    """A validated ``collection`` Bundle of validated resources."""
    entries = [
        {"fullUrl": f"urn:doorstep:fhir:{r['resourceType']}/{r['id']}", "resource": validate(r)}
        for r in resources
    ]
    out = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": format_time(now),
        "entry": entries,
    }
    validate(out)
    return out


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` unchanged if it parses as its FHIR R4 type; else ``FhirExportError``."""
    from fhir.resources.R4B import get_fhir_model_class  # ~50 ms: only when exporting
    from pydantic import ValidationError

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except (ValidationError, KeyError, ValueError) as exc:
        kind = resource.get("resourceType")
        raise FhirExportError(f"{kind} is not valid FHIR R4: {exc}") from exc
    return resource
