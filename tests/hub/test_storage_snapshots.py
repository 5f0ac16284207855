"""Snapshots: content-addressed files written atomically, metadata rows, retention."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest

from hub.errors import InvalidValue
from hub.storage import (
    Database,
    SnapshotFiles,
    StoreOutcome,
    assign_home,
    get_snapshot,
    purge_expired_snapshots,
    store_event,
    store_snapshot,
    stored_through,
    update_home,
)
from protocol.examples import EXAMPLE_JPEG
from protocol.snapshots import Snapshot, SnapshotMeta
from tests.fixtures.database import T0, add_device, ring


def _jpeg(n: int) -> bytes:
    # Distinct bytes per n (a comment segment), still a complete JPEG.
    tag = f"doorstep test {n}".encode()
    comment = b"\xff\xfe" + (len(tag) + 2).to_bytes(2, "big") + tag
    return EXAMPLE_JPEG[:2] + comment + EXAMPLE_JPEG[2:]


def _snapshot(
    device: str, seq: int, jpeg: bytes, snapshot_id: str | None = None, reason: str = "ring"
) -> Snapshot:
    meta = SnapshotMeta(
        device=device,
        id=snapshot_id or f"00000000-0000-4000-8000-{seq:012d}",
        seq=seq,
        boot_id="ab" * 8,
        at=T0,
        monotonic_ms=seq,
        reason=reason,
        width=1,
        height=1,
        size_bytes=len(jpeg),
        sha256=hashlib.sha256(jpeg).hexdigest(),
    )
    return Snapshot(meta=meta, jpeg=jpeg)


@pytest.fixture
def files(tmp_path: Path) -> SnapshotFiles:
    return SnapshotFiles(tmp_path / "snapshots")


def test_file_is_content_addressed_and_atomic(files: SnapshotFiles) -> None:
    jpeg = _jpeg(1)
    sha = hashlib.sha256(jpeg).hexdigest()
    rel = files.write(jpeg, sha)
    assert rel == f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    assert files.read(sha) == jpeg
    assert files.write(jpeg) == rel  # same bytes, same place
    leftovers = [p for p in files.root.rglob("*") if p.name.startswith(".incoming-")]
    assert leftovers == []
    with pytest.raises(InvalidValue, match="hash to"):
        files.write(jpeg, "0" * 64)


def test_snapshot_shares_the_seq_space_with_events(database: Database, device_id, files) -> None:
    snap = _snapshot(device_id, 2, _jpeg(2))
    with database.session() as s:
        store_event(s, ring(device_id, 1), received_at=T0)
        result = store_snapshot(s, files, snap, received_at=T0)
        again = store_snapshot(s, files, snap, received_at=T0)
        assert stored_through(s, device_id) == 2
    assert (result.outcome, again.outcome) == (StoreOutcome.INSERTED, StoreOutcome.DUPLICATE)
    with database.read_session() as s:
        row = get_snapshot(s, snap.meta.id)
    assert row is not None
    assert (row.seq, row.sha256, row.size_bytes) == (2, snap.meta.sha256, len(snap.jpeg))
    assert (files.root / row.path).read_bytes() == snap.jpeg


def test_retention_deletes_old_rows_and_files_per_home(database: Database, files) -> None:
    _, short = add_device(database, retention_days=7)
    _, normal = add_device(database, retention_days=30)
    plan = {  # (device, seq, age in days) -> expired?
        (short, 1, 8): True,
        (short, 2, 6): False,
        (normal, 1, 8): False,
        (normal, 2, 31): True,
    }
    shas = {}
    for n, (device, seq, age) in enumerate(plan):
        snap = _snapshot(device, seq, _jpeg(n), snapshot_id=f"00000000-0000-4000-8000-{n:012d}")
        shas[(device, seq, age)] = snap.meta.sha256
        with database.session() as s:
            store_snapshot(s, files, snap, received_at=T0 - timedelta(days=age))
    report = purge_expired_snapshots(database, files, now=T0, default_days=30)
    assert (report.rows_deleted, report.files_deleted, report.files_missing) == (2, 2, 0)
    for key, expired in plan.items():
        assert files.exists(shas[key]) is not expired, key
    assert purge_expired_snapshots(database, files, now=T0).rows_deleted == 0


def test_live_view_frames_go_after_an_hour_whatever_the_home_keeps(database, files) -> None:
    _, device = add_device(database, retention_days=30)
    plan = {  # (seq, reason, age) -> deleted?
        (1, "live_view", timedelta(hours=2)): True,
        (2, "live_view", timedelta(minutes=30)): False,
        (3, "ring", timedelta(hours=2)): False,
        (4, "request", timedelta(hours=2)): False,
    }
    for n, (seq, reason, age) in enumerate(plan):
        snap = _snapshot(device, seq, _jpeg(n), reason=reason)
        with database.session() as s:
            store_snapshot(s, files, snap, received_at=T0 - age)
    report = purge_expired_snapshots(database, files, now=T0, live_view_s=3600)
    assert (report.rows_deleted, report.files_deleted) == (1, 1)
    with database.read_session() as s:
        for seq, reason, age in plan:
            gone = get_snapshot(s, f"00000000-0000-4000-8000-{seq:012d}") is None
            assert gone is plan[(seq, reason, age)], (seq, reason)
    # Without a live-view limit, only the home's 30 days count.
    assert purge_expired_snapshots(database, files, now=T0 + timedelta(hours=1)).rows_deleted == 0


def test_retention_follows_a_changed_home_and_homeless_default(database, files) -> None:
    home, device = add_device(database, retention_days=30)
    with database.session() as s:
        store_snapshot(s, files, _snapshot(device, 1, _jpeg(1)), received_at=T0 - timedelta(10))
    assert purge_expired_snapshots(database, files, now=T0).rows_deleted == 0
    with database.session() as s:
        update_home(s, home, retention_days=5)
    assert purge_expired_snapshots(database, files, now=T0).rows_deleted == 1
    with database.session() as s:
        store_snapshot(s, files, _snapshot(device, 2, _jpeg(2)), received_at=T0 - timedelta(3))
        assign_home(s, device, None)
    assert purge_expired_snapshots(database, files, now=T0, default_days=4).rows_deleted == 0
    assert purge_expired_snapshots(database, files, now=T0, default_days=2).rows_deleted == 1


def test_shared_bytes_keep_their_file_while_referenced(database, files) -> None:
    _, device = add_device(database, retention_days=7)
    jpeg = _jpeg(5)
    old = _snapshot(device, 1, jpeg, snapshot_id="00000000-0000-4000-8000-000000000001")
    new = _snapshot(device, 2, jpeg, snapshot_id="00000000-0000-4000-8000-000000000002")
    with database.session() as s:
        store_snapshot(s, files, old, received_at=T0 - timedelta(days=9))
        store_snapshot(s, files, new, received_at=T0)
    report = purge_expired_snapshots(database, files, now=T0)
    assert (report.rows_deleted, report.files_deleted) == (1, 0)
    assert files.read(new.meta.sha256) == jpeg


def test_missing_file_is_counted_not_fatal(database, files) -> None:
    _, device = add_device(database, retention_days=1)
    snap = _snapshot(device, 1, _jpeg(9))
    with database.session() as s:
        store_snapshot(s, files, snap, received_at=T0 - timedelta(days=3))
    os.unlink(files.path(snap.meta.sha256))
    report = purge_expired_snapshots(database, files, now=T0)
    assert (report.rows_deleted, report.files_deleted, report.files_missing) == (1, 0, 1)
