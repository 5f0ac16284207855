"""Every audit action, now and later, exports as a valid FHIR R4 ``AuditEvent``.

The loops run over ``AuditAction`` itself, so an action added tomorrow is covered the
moment it exists: it either has its own codes or gets the generic ones, never a KeyError.
"""

from __future__ import annotations

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from hub.audit import GENESIS_HASH, AuditAction, RefKind, fhir_audit_event, ref
from hub.audit.export import GENERIC, action_codes
from hub.exports.fhir import RoleLookup, bundle, unlock_audit_event
from hub.storage.audit_rows import AuditRow
from protocol import utcnow
from tests.fixtures.database import T0

ACTORS = ["person:p1", "device:door-1a2b3c", "service:hub", "operator:root"]
EVERY_KIND = tuple(ref(kind, "x1") for kind in RefKind)


def _row(action: str, actor: str, seq: int = 7) -> AuditRow:
    details = {"reason": "carer at the door", "outcome": "rejected", "lock": "unlocked"}
    return AuditRow(seq, T0, actor, action, EVERY_KIND, details, GENESIS_HASH, "ab" * 32)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", list(AuditAction))
def test_every_action_is_a_valid_audit_event(action: AuditAction, actor: str) -> None:
    event = fhir_audit_event(_row(action.value, actor))
    parsed = AuditEvent.model_validate(event)
    assert parsed.subtype[-1].code == action.value
    assert parsed.action in {"C", "R", "U", "D", "E"}
    chain = {d.type: d for d in parsed.entity[-1].detail}
    assert chain["hash"].valueString == "ab" * 32


def test_an_action_this_hub_does_not_know_exports_generically() -> None:
    # e.g. written by a newer hub into a shared database, or renamed later
    event = fhir_audit_event(_row("teleported_in", "service:hub"))
    AuditEvent.model_validate(event)
    assert action_codes("teleported_in") == GENERIC
    assert event["type"]["code"] == "110100"  # application activity
    assert event["subtype"] == [{"system": "urn:doorstep:audit-action", "code": "teleported_in"}]


def test_unlock_export_builds_on_the_same_mapping_for_every_action() -> None:
    roles = RoleLookup({("p1", "h1"): {"family_member"}}, "h1")
    events = [
        unlock_audit_event(_row(a.value, actor, seq=n), None, roles)
        for n, (a, actor) in enumerate(((a, x) for a in AuditAction for x in ACTORS), 1)
    ]
    made = bundle(events, now=utcnow())  # validates every resource and the bundle
    assert len(made["entry"]) == len(AuditAction) * len(ACTORS)
    first = events[0]
    plain = fhir_audit_event(_row(next(iter(AuditAction)).value, ACTORS[0], seq=1))
    # one mapping: same id, time, outcome and chain entity as the audit log's own export
    for key in ("id", "recorded", "outcome", "source"):
        assert first[key] == plain[key]
    assert first["entity"][-1] == plain["entity"][-1]
