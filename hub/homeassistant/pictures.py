"""The last ring's picture for Home Assistant: an access, so only when allowed, and audited.

Allowed when an administrator set ``share_snapshots`` for the door *and* the door's
privacy switch (camera paused) is off; every picture sent is one audit entry.

    jpeg = picture_to_share(db, files, "door-1a2b3c", snapshot_id)   # None: not allowed
    if jpeg is not None and sent: record_shared(db, "door-1a2b3c", snapshot_id, len(jpeg), now)
"""

from __future__ import annotations

from datetime import datetime

from ..audit import AuditAction, RefKind, append, device_ref, ref
from ..storage.database import Database
from ..storage.devices import find_device
from ..storage.snapshot_files import SnapshotFiles
from ..storage.snapshots import get_snapshot
from .requests import ACTOR, VIA
from .store import find_link


def picture_to_share(
    db: Database, files: SnapshotFiles, device_id: str, snapshot_id: str
) -> bytes | None:
    with db.read_session() as s:
        link = find_link(s, device_id)
        device = find_device(s, device_id)
        row = get_snapshot(s, snapshot_id)
        # The door's privacy switch always wins over the opt-in.
        allowed = bool(link and link.share_snapshots and device and not device.privacy)
        sha = row.sha256 if row is not None else None
    if not allowed or sha is None:
        return None
    return files.read(sha)


def record_shared(db: Database, device_id: str, snapshot_id: str, size: int, at: datetime) -> None:
    with db.session() as s:
        append(
            s,
            AuditAction.HOME_ASSISTANT_SNAPSHOT_SHARED,
            actor=ACTOR,
            at=at,
            subjects=[device_ref(device_id), ref(RefKind.SNAPSHOT, snapshot_id)],
            details={"via": VIA, "bytes": size},
        )
