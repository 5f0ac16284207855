"""One audit entry as plain JSON, or as an HL7 FHIR R4 ``AuditEvent`` resource.

The FHIR form keeps the chain fields (``seq``, ``hash``, ``prev_hash``) in an
entity's ``detail`` so a receiver can re-check the chain from the export alone;
people and devices appear only as identifiers, never with names.

    entry_json(row)["hash"] == row.hash                     # True
    fhir_audit_event(row)["resourceType"]                   # 'AuditEvent'
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ..storage.audit_rows import AuditRow
from .actions import AuditAction, RefKind, split_ref
from .chain import format_time

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ACTION_SYSTEM = "urn:doorstep:audit-action"
REF_SYSTEM = "urn:doorstep:ref:"  # + kind, e.g. urn:doorstep:ref:person

A = AuditAction
# action -> (DICOM event type, DICOM subtype or None, FHIR action code C/R/U/D/E)
_TYPES: dict[AuditAction, tuple[tuple[str, str], tuple[str, str] | None, str]] = {
    A.LOGIN: (("110114", "User Authentication"), ("110122", "Login"), "E"),
    A.LOGIN_FAILED: (("110114", "User Authentication"), ("110122", "Login"), "E"),
    A.STEP_UP: (("110114", "User Authentication"), ("110122", "Login"), "E"),
    A.UNLOCK_REQUESTED: (("110100", "Application Activity"), None, "E"),
    A.COMMAND_SENT: (("110100", "Application Activity"), None, "E"),
    A.COMMAND_ACKNOWLEDGED: (("110100", "Application Activity"), None, "E"),
    A.COMMAND_REJECTED: (("110100", "Application Activity"), None, "E"),
    A.COMMAND_TIMED_OUT: (("110100", "Application Activity"), None, "E"),
    A.ROLE_CHANGED: (("110113", "Security Alert"), ("110136", "Security Roles Changed"), "U"),
    A.KEY_CHANGED: (("110113", "Security Alert"), ("110129", "Security Configuration"), "U"),
    A.BREAK_GLASS: (("110113", "Security Alert"), ("110127", "Emergency Override Started"), "E"),
    A.SNAPSHOT_VIEWED: (("110110", "Patient Record"), None, "R"),
    A.EXPORT: (("110106", "Export"), None, "R"),
    A.ERASURE: (("110110", "Patient Record"), None, "D"),
    A.DEVICE_REGISTERED: (("110113", "Security Alert"), ("110130", "Hardware Configuration"), "C"),
    A.DEVICE_REVOKED: (("110113", "Security Alert"), ("110130", "Hardware Configuration"), "D"),
    A.ALERT_ACKNOWLEDGED: (("110100", "Application Activity"), None, "U"),
    A.ACCOUNT_CREATED: (
        ("110113", "Security Alert"),
        ("110137", "User Security Attributes Changed"),
        "C",
    ),
    A.INVITATION_CREATED: (("110113", "Security Alert"), ("110136", "Security Roles Changed"), "C"),
    A.HOME_CREATED: (("110100", "Application Activity"), None, "C"),
    A.DEVICE_ASSIGNED: (("110113", "Security Alert"), ("110130", "Hardware Configuration"), "U"),
    A.VISIT_WINDOW_ADDED: (("110100", "Application Activity"), None, "C"),
    A.VISIT_WINDOW_REMOVED: (("110100", "Application Activity"), None, "D"),
    A.CHECKED_IN: (("110100", "Application Activity"), None, "E"),
    A.SNAPSHOTS_PURGED: (("110110", "Patient Record"), None, "D"),
}
# FHIR outcome codes: 0 success, 4 minor failure.
_MINOR_FAILURES = {A.LOGIN_FAILED, A.COMMAND_REJECTED, A.COMMAND_TIMED_OUT}
# audit-entity-type: 1 Person, 2 System Object, 4 Other.
_ENTITY_TYPES = {RefKind.PERSON: ("1", "Person"), RefKind.HOME: ("4", "Other")}


def entry_json(row: AuditRow) -> dict[str, Any]:
    """The entry with every field, as stored and hashed."""
    return {
        "seq": row.seq,
        "at": format_time(row.at),
        "actor": row.actor,
        "action": row.action,
        "subjects": list(row.subjects),
        "details": row.details,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def _identifier(reference: str) -> dict[str, Any]:
    kind, ident = split_ref(reference)
    return {"identifier": {"system": f"{REF_SYSTEM}{kind.value}", "value": ident}}


def _coding(system: str, code_display: tuple[str, str]) -> dict[str, str]:
    return {"system": system, "code": code_display[0], "display": code_display[1]}


def fhir_audit_event(row: AuditRow, *, site: str = "doorstep-hub") -> dict[str, Any]:
    """An R4 ``AuditEvent`` (as a dict) for one entry."""
    action = AuditAction(row.action)
    event_type, subtype, crude = _TYPES[action]
    subtypes = [{"system": ACTION_SYSTEM, "code": action.value}]
    if subtype is not None:
        subtypes.insert(0, _coding(DCM, subtype))
    entities: list[dict[str, Any]] = []
    for subject in row.subjects:
        kind, _ = split_ref(subject)
        code = _ENTITY_TYPES.get(kind, ("2", "System Object"))
        entities.append({"what": _identifier(subject), "type": _coding(ENTITY_TYPE, code)})
    details = json.dumps(row.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    entities.append(
        {
            "what": {"identifier": {"system": f"{REF_SYSTEM}audit-entry", "value": str(row.seq)}},
            "type": _coding(ENTITY_TYPE, ("2", "System Object")),
            "detail": [
                {"type": "seq", "valueString": str(row.seq)},
                {"type": "prev_hash", "valueString": row.prev_hash},
                {"type": "hash", "valueString": row.hash},
                {
                    "type": "details",
                    "valueBase64Binary": base64.b64encode(details.encode()).decode(),
                },
            ],
        }
    )
    return {
        "resourceType": "AuditEvent",
        "id": f"doorstep-audit-{row.seq}",
        "type": _coding(DCM, event_type),
        "subtype": subtypes,
        "action": crude,
        "recorded": format_time(row.at),
        "outcome": "4" if action in _MINOR_FAILURES else "0",
        "agent": [{"who": _identifier(row.actor), "requestor": True}],
        "source": {
            "site": site,
            "observer": {"display": site},
            "type": [_coding(SOURCE_TYPE, ("4", "Application Server"))],
        },
        "entity": entities,
    }
