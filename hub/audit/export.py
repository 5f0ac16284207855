"""One audit entry as plain JSON, or as an HL7 FHIR R4 ``AuditEvent`` resource.

This is the hub's one FHIR mapping of the audit log: ``doorstep audit export --format
fhir`` uses it as it is, and the unlock export (``hub.exports.fhir``) starts from it and
adds what only it knows (the command row, people's roles). Every action maps, including
ones added after this table was written: those get a generic "application activity".

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
Code = tuple[str, str]
_APP = ("110100", "Application Activity")
_SECURITY = ("110113", "Security Alert")
_RECORD = ("110110", "Patient Record")
_LOGIN = ("110114", "User Authentication"), ("110122", "Login")
_SEC_CONFIG = ("110129", "Security Configuration")
_HARDWARE = ("110130", "Hardware Configuration")
_ROLES = ("110136", "Security Roles Changed")
_RESTRICTED = ("110132", "Use of Restricted Function")
# What an action added later than this table becomes: still a valid, honest event.
GENERIC: tuple[Code, Code | None, str] = (_APP, None, "E")
# action -> (DICOM event type, DICOM subtype or None, FHIR action code C/R/U/D/E)
_TYPES: dict[AuditAction, tuple[Code, Code | None, str]] = {
    A.LOGIN: (*_LOGIN, "E"),
    A.LOGIN_FAILED: (*_LOGIN, "E"),
    A.STEP_UP: (*_LOGIN, "E"),
    A.UNLOCK_REQUESTED: (_APP, None, "E"),
    A.COMMAND_SENT: (_APP, None, "E"),
    A.COMMAND_ACKNOWLEDGED: (_APP, None, "E"),
    A.COMMAND_REJECTED: (_APP, None, "E"),
    A.COMMAND_TIMED_OUT: (_APP, None, "E"),
    A.ROLE_CHANGED: (_SECURITY, _ROLES, "U"),
    A.KEY_CHANGED: (_SECURITY, _SEC_CONFIG, "U"),
    A.BREAK_GLASS: (_SECURITY, ("110127", "Emergency Override Started"), "E"),
    A.SNAPSHOT_VIEWED: (_RECORD, None, "R"),
    A.EXPORT: (("110106", "Export"), None, "R"),
    A.ERASURE: (_RECORD, None, "D"),
    A.DEVICE_REGISTERED: (_SECURITY, _HARDWARE, "C"),
    A.DEVICE_REVOKED: (_SECURITY, _HARDWARE, "D"),
    A.ALERT_ACKNOWLEDGED: (_APP, None, "U"),
    A.ACCOUNT_CREATED: (_SECURITY, ("110137", "User Security Attributes Changed"), "C"),
    A.INVITATION_CREATED: (_SECURITY, _ROLES, "C"),
    A.HOME_CREATED: (_APP, None, "C"),
    A.DEVICE_ASSIGNED: (_SECURITY, _HARDWARE, "U"),
    A.VISIT_WINDOW_ADDED: (_APP, None, "C"),
    A.VISIT_WINDOW_REMOVED: (_APP, None, "D"),
    A.CHECKED_IN: (_APP, None, "E"),
    A.SNAPSHOTS_PURGED: (_RECORD, None, "D"),
    A.CONSENT_RECORDED: (_APP, None, "C"),  # issue 9: privacy
    # issue 9: a check-in that opens the door by itself uses a restricted function
    A.CHECK_IN_POLICY_CHANGED: (_SECURITY, _SEC_CONFIG, "U"),
    A.AUTO_UNLOCK_ENABLED: (_SECURITY, _SEC_CONFIG, "U"),
    A.AUTO_UNLOCK_DISABLED: (_SECURITY, _SEC_CONFIG, "U"),
    A.AUTO_UNLOCKED: (_SECURITY, _RESTRICTED, "E"),
    A.ESCALATION_POLICY_CHANGED: (_APP, None, "U"),
    A.BREAK_GLASS_REVIEWED: (_SECURITY, None, "U"),
    # Home Assistant bridge (issue 10): a picture sent to Home Assistant leaves the system.
    A.HOME_ASSISTANT_CHANGED: (_SECURITY, _SEC_CONFIG, "U"),
    A.HOME_ASSISTANT_REFUSED: (_APP, None, "E"),
    A.HOME_ASSISTANT_SNAPSHOT_SHARED: (("110106", "Export"), None, "R"),
    A.WEBHOOK_ADDED: (_SECURITY, _SEC_CONFIG, "C"),
    A.WEBHOOK_REMOVED: (_SECURITY, _SEC_CONFIG, "D"),
    A.NOTIFICATION_SEEN: (_APP, None, "R"),
    A.CARER_PHOTO_ADDED: (_APP, None, "C"),
    A.CARER_PHOTO_REMOVED: (_APP, None, "D"),
    A.CARER_PHOTO_VIEWED: (_RECORD, None, "R"),
}
# FHIR R4 outcome codes: 0 success, 4 minor failure, 8 serious failure.
_MINOR_FAILURES = {A.LOGIN_FAILED, A.COMMAND_TIMED_OUT, A.HOME_ASSISTANT_REFUSED}
_OUTCOME_OF_REJECTION = {"rejected": "4", "failed": "8", "not_sent": "8"}
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


def fhir_identifier(kind: str, value: str) -> dict[str, str]:
    return {"system": f"{REF_SYSTEM}{kind}", "value": value}


def fhir_coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _identifier(reference: str) -> dict[str, Any]:
    kind, ident = split_ref(reference)
    return {"identifier": fhir_identifier(kind.value, ident)}


def action_codes(action: str) -> tuple[Code, Code | None, str]:
    """(type, subtype, C/R/U/D/E) of an action; ``GENERIC`` for one this table lacks."""
    known = action if isinstance(action, AuditAction) else _as_action(action)
    return _TYPES.get(known, GENERIC) if known is not None else GENERIC


def _as_action(value: str) -> AuditAction | None:
    try:
        return AuditAction(value)
    except ValueError:  # written by a newer hub: export it anyway, generically
        return None


def outcome(row: AuditRow) -> tuple[str, str | None]:
    """FHIR outcome code and, where the entry says why, a sentence for ``outcomeDesc``."""
    action, details = _as_action(row.action), row.details
    if action is A.COMMAND_REJECTED:
        said = str(details.get("outcome") or "rejected")
        why = details.get("reason") or details.get("detail") or said
        return _OUTCOME_OF_REJECTION.get(said, "4"), f"the door answered {said}: {why}"
    if action is A.COMMAND_TIMED_OUT:
        return "4", "no acknowledgement in time: the door may or may not have opened"
    if action is A.COMMAND_ACKNOWLEDGED:
        return "0", f"the door confirmed (signed): lock {details.get('lock', 'unknown')}"
    return ("4" if action in _MINOR_FAILURES else "0"), None


def chain_entity(row: AuditRow) -> dict[str, Any]:
    """The entry's place in the hash chain, and its details (base64 of canonical JSON)."""
    details = json.dumps(row.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {
        "what": {"identifier": fhir_identifier("audit-entry", str(row.seq))},
        "type": fhir_coding(ENTITY_TYPE, "2", "System Object"),
        "detail": [
            {"type": "seq", "valueString": str(row.seq)},
            {"type": "prev_hash", "valueString": row.prev_hash},
            {"type": "hash", "valueString": row.hash},
            {"type": "details", "valueBase64Binary": base64.b64encode(details.encode()).decode()},
        ],
    }


def fhir_audit_event(row: AuditRow, *, site: str = "doorstep-hub") -> dict[str, Any]:
    """An R4 ``AuditEvent`` (as a dict) for one entry, whatever its action."""
    event_type, subtype, crude = action_codes(row.action)
    subtypes = [fhir_coding(ACTION_SYSTEM, row.action)]
    if subtype is not None:
        subtypes.insert(0, fhir_coding(DCM, *subtype))
    entities: list[dict[str, Any]] = []
    for subject in row.subjects:
        kind, _ = split_ref(subject)
        code = _ENTITY_TYPES.get(kind, ("2", "System Object"))
        entities.append({"what": _identifier(subject), "type": fhir_coding(ENTITY_TYPE, *code)})
    entities.append(chain_entity(row))
    code, why = outcome(row)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"doorstep-audit-{row.seq}",
        "type": fhir_coding(DCM, *event_type),
        "subtype": subtypes,
        "action": crude,
        "recorded": format_time(row.at),
        "outcome": code,
        "agent": [{"who": _identifier(row.actor), "requestor": True}],
        "source": {
            "site": site,
            "observer": {"display": site},
            "type": [fhir_coding(SOURCE_TYPE, "4", "Application Server")],
        },
        "entity": entities,
    }
    if why:
        event["outcomeDesc"] = why
    return event
