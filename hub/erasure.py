"""Erasure of one person's personal data, leaving the audit chain whole.

The audit log names people only by id (``person:<id>``), so it is never touched:
``doorstep audit verify`` passes after an erasure. What goes:
- the person's row (name, contact details) and, with it through the database's
  cascades, their account (so they can no longer log in), sessions, memberships,
  visit windows, check-ins, push subscriptions and notification records;
- the free-text reasons they gave for commands, and their name and notes in consent
  records (the decision itself is kept: it is the lawful basis of past recording);
- for the person cared for in a home: that home's ring snapshots (rows and JPEGs);
- their name, contact details and free text about them in other people's records
  (escalation, break-glass, notifications, webhooks, alerts): ``hub.erasure_reach``.
A tombstone row records when and by whom; an ``erasure`` audit entry records it too.

    summary = erase_person_data(hub.db, hub.files, person_id, by=person_ref(admin))
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from protocol.base import utcnow

from .audit import AuditAction, append, person_ref
from .carer_photos import delete_for_person as delete_carer_photos  # issue 9
from .erasure_reach import erase_references, needles_of
from .errors import HubError, UnknownPerson
from .storage.database import Database
from .storage.homes import erase_person, members_of, memberships_of
from .storage.models_commands import Command
from .storage.models_events import StoredSnapshot
from .storage.models_privacy import PersonErasure
from .storage.models_registry import Device, Person, Role
from .storage.privacy import blank_consent_names, find_erasure, record_erasure, resident_homes
from .storage.snapshot_files import SnapshotFiles


class ErasureRefused(HubError, ValueError):
    """This erasure would leave the hub unusable or is not one's to make."""


@dataclass(frozen=True, slots=True)
class ErasureSummary:
    person_id: str
    erased_at: str
    already_erased: bool
    homes: list[str]
    memberships: int
    command_reasons_blanked: int
    consent_fields_blanked: int
    snapshots_deleted: int
    snapshot_files_deleted: int
    reached: dict[str, int] = field(default_factory=dict)  # see hub.erasure_reach


def homes_of(session: Session, person_id: str) -> list[str]:
    """Homes a person is linked to: their roles, the homes where they are cared for, and
    (once erased) the homes they were linked to then."""
    homes = {m.home_id for m in memberships_of(session, person_id)}
    homes |= set(resident_homes(session, person_id))
    erasure = find_erasure(session, person_id)
    if erasure is not None:
        homes |= set(erasure.homes)
    return sorted(homes)


def erase_person_data(
    db: Database,
    files: SnapshotFiles,
    person_id: str,
    *,
    by: str,
    at: datetime | None = None,
) -> ErasureSummary:
    """Erase ``person_id``'s personal data (see the module text); idempotent."""
    at = at or utcnow()
    if by == person_ref(person_id):
        raise ErasureRefused("you cannot erase yourself: ask another administrator")
    with db.session() as s:
        done = find_erasure(s, person_id)
        if done is not None:
            return ErasureSummary(
                person_id, done.erased_at.isoformat(), True, list(done.homes), 0, 0, 0, 0, 0
            )
        if s.get(Person, person_id) is None:
            raise UnknownPerson(f"person {person_id!r} does not exist: nothing to erase")
        _refuse_last_admin(s, person_id)
        homes = homes_of(s, person_id)
        cared_for = resident_homes(s, person_id)
        memberships = len(memberships_of(s, person_id))
        reasons = _blank_command_reasons(s, person_id)
        consent = blank_consent_names(s, person_id)
        shas = _delete_snapshots_of_homes(s, cared_for)
        reached = erase_references(s, person_id, needles_of(s, person_id), cared_for=cared_for)
        delete_carer_photos(s, person_id)  # their photos go with their consent (issue 9)
        erase_person(s, person_id)  # the row, and by cascade everything hanging off it
        summary = ErasureSummary(
            person_id=person_id,
            erased_at=at.isoformat(),
            already_erased=False,
            homes=homes,
            memberships=memberships,
            command_reasons_blanked=reasons,
            consent_fields_blanked=consent,
            snapshots_deleted=len(shas),
            snapshot_files_deleted=0,
            reached=reached,
        )
        counts = {k: v for k, v in asdict(summary).items() if isinstance(v, int)} | reached
        record_erasure(
            s,
            PersonErasure(
                person_id=person_id, erased_at=at, erased_by=by, homes=homes, summary=counts
            ),
        )
        append(
            s,
            AuditAction.ERASURE,
            actor=by,
            at=at,
            subjects=[person_ref(person_id)],
            details={"what": "personal_data", **counts},
        )
    # Files last, once no row refers to them (a crash before leaves files, never rows).
    deleted = _delete_unreferenced_files(db, files, shas)
    return ErasureSummary(**{**asdict(summary), "snapshot_files_deleted": deleted})


def _refuse_last_admin(s: Session, person_id: str) -> None:
    for m in memberships_of(s, person_id):
        if Role(m.role) is Role.ADMIN and {
            a.person_id for a in members_of(s, m.home_id, Role.ADMIN)
        } == {person_id}:
            raise ErasureRefused(
                f"{person_id} is the only administrator of home {m.home_id}: "
                "make someone else its administrator first"
            )


def _blank_command_reasons(s: Session, person_id: str) -> int:
    result = s.execute(
        update(Command)
        .where(Command.requested_by == person_id, Command.reason != "")
        .values(reason="")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _delete_snapshots_of_homes(s: Session, homes: list[str]) -> list[str]:
    if not homes:
        return []
    devices = select(Device.id).where(Device.home_id.in_(homes))
    stmt = (
        delete(StoredSnapshot)
        .where(StoredSnapshot.device_id.in_(devices))
        .returning(StoredSnapshot.sha256)
        .execution_options(synchronize_session=False)
    )
    return list(s.scalars(stmt))


def _delete_unreferenced_files(db: Database, files: SnapshotFiles, shas: list[str]) -> int:
    if not shas:
        return 0
    with db.read_session() as s:
        used = set(
            s.scalars(select(StoredSnapshot.sha256).where(StoredSnapshot.sha256.in_(set(shas))))
        )
    return sum(1 for sha in sorted(set(shas) - used) if files.delete(sha))
