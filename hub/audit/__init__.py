"""The hub's tamper-evident audit log: a hash chain with signed checkpoints.

with db.session() as s:
    append(s, AuditAction.LOGIN, actor=person_ref(pid), at=utcnow())
    make_checkpoint(s, hub_key, now=utcnow())
assert verify(db, load_checkpoints(path), hub_public_key).ok
"""

from __future__ import annotations

from .actions import (
    AuditAction,
    RefKind,
    check_ref,
    command_ref,
    device_ref,
    person_ref,
    ref,
    service_ref,
    split_ref,
)
from .chain import GENESIS_HASH, canonical, entry_hash
from .checkpoints import (
    Checkpoint,
    CheckpointStatement,
    checkpoint_if_due,
    checkpoint_overdue,
    dump_checkpoints,
    load_checkpoints,
    make_checkpoint,
    open_checkpoint,
    parse_checkpoints,
    stored_checkpoints,
)
from .export import entry_json, fhir_audit_event
from .log import NewEntry, append, append_many, entries, entries_naming, entry, head
from .verify import Problem, Reason, VerifyReport, verify, verify_session

__all__ = [
    "GENESIS_HASH",
    "AuditAction",
    "Checkpoint",
    "CheckpointStatement",
    "NewEntry",
    "Problem",
    "Reason",
    "RefKind",
    "VerifyReport",
    "append",
    "append_many",
    "canonical",
    "check_ref",
    "checkpoint_if_due",
    "checkpoint_overdue",
    "command_ref",
    "device_ref",
    "dump_checkpoints",
    "entries",
    "entries_naming",
    "entry",
    "entry_hash",
    "entry_json",
    "fhir_audit_event",
    "head",
    "load_checkpoints",
    "make_checkpoint",
    "open_checkpoint",
    "parse_checkpoints",
    "person_ref",
    "ref",
    "service_ref",
    "split_ref",
    "stored_checkpoints",
    "verify",
    "verify_session",
]
