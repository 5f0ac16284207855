"""Snapshots: metadata rows plus content-addressed JPEG files, and the retention job.

A snapshot is also a sequenced message (it shares the device's seq numbers with
events), so ``store_snapshot`` stores it through ``store_record`` and is just as
idempotent. The file is written (atomically) before the row: a crash in between
leaves an unreferenced file, never a row without its picture.

Retention counts from when the hub *received* a snapshot, in the hub's clock: a
Pi without a real-time clock may stamp frames with a wrong date.

    store_snapshot(session, files, snapshot, received_at=utcnow())
    report = purge_expired_snapshots(db, files, now=utcnow(), default_days=30)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from protocol.snapshots import Snapshot

from .database import Database
from .events import EventRecord, StoreOutcome, StoreResult, store_record
from .models_events import SNAPSHOT_KIND, StoredSnapshot
from .models_registry import Device, Home
from .snapshot_files import SnapshotFiles


@dataclass(frozen=True, slots=True)
class PurgeReport:
    rows_deleted: int
    files_deleted: int
    files_missing: int


def store_snapshot(
    session: Session, files: SnapshotFiles, snapshot: Snapshot, received_at: datetime
) -> StoreResult:
    """Write the JPEG, then store the metadata idempotently by (device, seq)."""
    meta = snapshot.meta
    rel = files.write(snapshot.jpeg, meta.sha256)
    record = EventRecord(
        device=meta.device,
        seq=meta.seq,
        event_id=meta.id,
        kind=SNAPSHOT_KIND,
        boot_id=meta.boot_id,
        device_time=meta.at,
        payload=meta.model_dump(mode="json"),
    )
    result = store_record(session, record, received_at)
    if result.outcome is StoreOutcome.INSERTED:
        session.add(
            StoredSnapshot(
                id=meta.id,
                device_id=meta.device,
                seq=meta.seq,
                sha256=meta.sha256,
                size_bytes=meta.size_bytes,
                width=meta.width,
                height=meta.height,
                reason=meta.reason,
                taken_at=meta.at,
                received_at=received_at,
                event_id=meta.event_id,
                command_id=meta.command_id,
                path=rel,
            )
        )
        session.flush()
    return result


def get_snapshot(session: Session, snapshot_id: str) -> StoredSnapshot | None:
    return session.get(StoredSnapshot, snapshot_id)


def snapshots_for_event(session: Session, event_id: str) -> list[StoredSnapshot]:
    stmt = select(StoredSnapshot).where(StoredSnapshot.event_id == event_id)
    return list(session.scalars(stmt.order_by(StoredSnapshot.seq)))


def purge_expired_snapshots(
    db: Database,
    files: SnapshotFiles,
    now: datetime,
    *,
    default_days: int = 30,
    live_view_s: int | None = None,
    record: Callable[[Session, int], None] | None = None,
) -> PurgeReport:
    """Delete snapshots older than their home's retention (``default_days`` without a home),
    and live-view frames older than ``live_view_s`` whatever the home's retention.

    Rows go first, in their own committed transaction; a file is removed only once
    no remaining row refers to its bytes. ``record(session, rows_deleted)`` runs in
    that same transaction (the hub's job appends its audit entry there, so a purge
    is never committed unrecorded).
    """
    with db.session() as session:
        shas = _delete_expired_rows(session, now, default_days, live_view_s)
        if record is not None:
            record(session, len(shas))
    if not shas:
        return PurgeReport(0, 0, 0)
    with db.read_session() as session:
        still_used = set(
            session.scalars(
                select(StoredSnapshot.sha256).where(StoredSnapshot.sha256.in_(set(shas)))
            )
        )
    deleted = missing = 0
    for sha in sorted(set(shas) - still_used):
        if files.delete(sha):
            deleted += 1
        else:
            missing += 1
    return PurgeReport(rows_deleted=len(shas), files_deleted=deleted, files_missing=missing)


def _delete_expired_rows(
    session: Session, now: datetime, default_days: int, live_view_s: int | None
) -> Sequence[str]:
    shas: list[str] = []
    if live_view_s is not None:
        # Live-view frames were for watching at the time, not for the home's record.
        every = select(Device.id)
        shas += _delete_where(session, every, now - timedelta(seconds=live_view_s), "live_view")
    # One statement per distinct retention period, not per home: a council has thousands.
    periods = set(session.scalars(select(Home.retention_days).distinct()))
    for days in sorted(periods):
        homes = select(Home.id).where(Home.retention_days == days)
        devices = select(Device.id).where(Device.home_id.in_(homes))
        shas += _delete_where(session, devices, now - timedelta(days=days))
    homeless = select(Device.id).where(Device.home_id.is_(None))
    shas += _delete_where(session, homeless, now - timedelta(days=default_days))
    return shas


def _delete_where(
    session: Session, devices: object, cutoff: datetime, reason: str | None = None
) -> list[str]:
    stmt = (
        delete(StoredSnapshot)
        .where(StoredSnapshot.device_id.in_(devices))  # type: ignore[arg-type]
        .where(StoredSnapshot.received_at < cutoff)
        .returning(StoredSnapshot.sha256)
        .execution_options(synchronize_session=False)
    )
    if reason is not None:
        stmt = stmt.where(StoredSnapshot.reason == reason)
    return list(session.scalars(stmt))
