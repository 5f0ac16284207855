"""Subject-access export: everything the hub holds about one person, as a zip.

"Their data" is:
- any person: their record, every row of every table that refers to them (memberships,
  account, visit windows and check-ins, notifications... found through the foreign
  keys to ``people``, so new tables are included without a change here), the commands
  they asked for (unlocks...), consent records naming them, and every audit entry
  whose actor or subjects name them;
- the person cared for in a home (named as ``resident_id`` in its consent record):
  also that home's door events, snapshots (the JPEGs themselves) and visit windows.

Secrets (password hashes, TOTP secrets, session and push keys) are withheld, never
exported. The zip holds ``README.txt``, ``manifest.json`` (each file with its SHA-256)
and the data as JSON; every export is audited (``export``).

    with open("person.zip", "wb") as out:
        manifest = export_person(hub.db, hub.files, person_id, out, by=person_ref(admin))
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import IO, Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from protocol.base import utcnow

from .audit import AuditAction, append, entries_naming, entry_json, person_ref
from .storage.database import Database
from .storage.models import Base
from .storage.privacy import consents_naming, find_erasure, resident_homes
from .storage.snapshot_files import SnapshotFiles

# Columns never exported: credentials and capabilities, not information about a person.
SECRET_COLUMNS = frozenset(
    {
        "password_hash",
        "totp_secret",
        "totp_last_step",
        "id_hash",
        "csrf_token",
        "token_hash",
        "p256dh",
        "auth",
        "endpoint",
        "secret",
    }
)
WITHHELD = "[withheld: a credential]"
# Columns naming a person by id without a foreign key (kept when the person is erased).
_LOOSE_PERSON_COLUMNS = (("commands", "requested_by"),)
# Handled on their own (people: person.json; audit: its own file; consent: consent.json).
_OWN_FILES = frozenset({"people", "audit_entries", "consent_records", "person_erasures"})

README = """\
Doorstep: subject-access export
================================

This archive holds the personal data the Doorstep hub stores about one person
(see manifest.json for who, when, and the SHA-256 of every file).

person.json          the person's record (name, contact details); null once erased
tables/*.json        rows of other tables that refer to the person (roles in homes,
                     account, visit windows, check-ins, notifications, ...); a binary
                     value, such as a carer's photo, is a file beside it ({"file": ...})
commands.json        door commands the person asked for (unlocks, live views, ...)
consent.json         consent records naming the person
audit.json           audit log entries naming the person (people appear by id only)
homes/<home>/        for the person cared for in a home: the home's door events,
                     visit windows and ring snapshots (snapshots/*.jpg)

Passwords, one-time-code secrets and session keys are never exported.
Times are in UTC (ISO 8601).
"""


def export_person(
    db: Database,
    files: SnapshotFiles,
    person_id: str,
    out: IO[bytes],
    *,
    by: str,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Write the zip of ``person_id``'s data to ``out``, audit it, return the manifest."""
    at = at or utcnow()
    with db.read_session() as s:
        manifest = _write_zip(s, files, person_id, out, by=by, at=at)
    with db.session() as s:
        append(
            s,
            AuditAction.EXPORT,
            actor=by,
            at=at,
            subjects=[person_ref(person_id)],
            details={"what": "subject_access", "files": len(manifest["files"])},
        )
    return manifest


def _write_zip(
    s: Session, files: SnapshotFiles, person_id: str, out: IO[bytes], *, by: str, at: datetime
) -> dict[str, Any]:
    listed: list[dict[str, Any]] = []

    def put(path: str, data: bytes, records: int | None = None) -> None:
        zf.writestr(path, data)
        item = {"path": path, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        listed.append(item if records is None else {**item, "records": records})

    def put_json(path: str, value: Any) -> None:
        records = len(value) if isinstance(value, list) else None
        put(path, _json(value), records)

    homes = resident_homes(s, person_id)
    erasure = find_erasure(s, person_id)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        put("README.txt", README.encode())
        people = _table("people")
        person = _rows(s, people, "id", person_id)
        put_json("person.json", person[0] if person else None)
        for table, column in _referring_columns():
            rows = _rows(s, table, column, person_id)
            if rows:
                folder = f"tables/{table.name}.{column}"
                put_json(f"{folder}.json", [_files_of(row, folder, i, put) for i, row in
                                            enumerate(rows)])  # fmt: skip
        for table_name, column in _LOOSE_PERSON_COLUMNS:
            put_json(f"{table_name}.json", _rows(s, _table(table_name), column, person_id))
        consents = consents_naming(s, person_id)
        put_json("consent.json", [_plain_obj(c) for c in consents])
        put_json("audit.json", _audit_naming(s, person_id))
        for home in homes:
            _home_data(s, files, home, put, put_json)
        manifest = {
            "format": "doorstep-subject-access/1",
            "person_id": person_id,
            "generated_at": at.isoformat(),
            "generated_by": by,
            "erased": None
            if erasure is None
            else {"erased_at": erasure.erased_at.isoformat(), "erased_by": erasure.erased_by},
            "cared_for_in_homes": homes,
            "files": list(listed),
        }
        zf.writestr("manifest.json", _json(manifest))
    return manifest


def _files_of(row: dict[str, Any], folder: str, index: int, put: Any) -> dict[str, Any]:
    """The row with each binary value (a carer's photo) written as a file of its own and
    replaced by that file's name: a picture is useful to the person as a picture."""
    out = dict(row)
    for key, value in row.items():
        if isinstance(value, bytes):
            ext = ".jpg" if value.startswith(b"\xff\xd8\xff") else ".bin"
            path = f"{folder}/{index}.{key}{ext}"
            put(path, value)
            out[key] = {"file": path}
    return out


def _home_data(s: Session, files: SnapshotFiles, home: str, put: Any, put_json: Any) -> None:
    devices = [r["id"] for r in _rows(s, _table("devices"), "home_id", home)]
    events = [e for d in devices for e in _rows(s, _table("events"), "device_id", d, "seq")]
    put_json(f"homes/{home}/events.json", events)
    put_json(f"homes/{home}/visit_windows.json", _rows(s, _table("visit_windows"), "home_id", home))
    snapshots = [p for d in devices for p in _rows(s, _table("snapshots"), "device_id", d)]
    put_json(f"homes/{home}/snapshots.json", snapshots)
    for snap in snapshots:
        if files.exists(snap["sha256"]):
            put(f"homes/{home}/snapshots/{snap['id']}.jpg", files.read(snap["sha256"]))


def _audit_naming(s: Session, person_id: str) -> list[dict[str, Any]]:
    # Through the reference index (written with each entry), not a scan of the whole chain.
    return [entry_json(row) for row in entries_naming(s, person_ref(person_id))]


def _referring_columns() -> Iterable[tuple[Table, str]]:
    """(table, column) for every foreign key to ``people.id``, outside the tables above."""
    for table in Base.metadata.sorted_tables:
        if table.name in _OWN_FILES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == "people" and fk.column.name == "id":
                yield table, fk.parent.name


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _rows(
    s: Session, table: Table, column: str, value: str, order: str | None = None
) -> list[dict[str, Any]]:
    keys = [table.c[order]] if order else list(table.primary_key.columns)
    stmt = select(table).where(table.c[column] == value).order_by(*keys)
    return [_plain(dict(row._mapping)) for row in s.execute(stmt)]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: WITHHELD if k in SECRET_COLUMNS and v is not None else _v(v) for k, v in row.items()}


def _plain_obj(obj: Any) -> dict[str, Any]:
    return _plain({c.key: getattr(obj, c.key) for c in obj.__table__.columns})


def _v(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if hasattr(value, "value") and isinstance(value.value, str):  # StrEnum
        return value.value
    return value


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str).encode()
