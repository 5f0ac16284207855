"""The snapshot retention job: delete what is past its home's retention, and audit it.

Run by the hub every ``retention_interval_s`` (runtime settings). Live-view frames go
after ``live_view_s`` (default an hour), whatever the home keeps. Each run that
deletes anything appends one ``snapshots_purged`` entry in the same transaction
as the deletion, so a purge is never committed without its audit record.

    >>> job = RetentionJob(db, files, default_days=30, live_view_s=3600)  # doctest: +SKIP
    >>> job.run().rows_deleted                           # doctest: +SKIP
    12
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from protocol.base import utcnow

from .audit import AuditAction, append, service_ref
from .storage.database import Database
from .storage.snapshot_files import SnapshotFiles
from .storage.snapshots import PurgeReport, purge_expired_snapshots

log = logging.getLogger(__name__)

ACTOR = service_ref("retention")


class RetentionJob:
    def __init__(
        self,
        db: Database,
        files: SnapshotFiles,
        *,
        default_days: int = 30,
        live_view_s: int = 3600,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.files = files
        self.default_days = default_days
        self.live_view_s = live_view_s
        self.clock = clock
        self.last: PurgeReport | None = None

    def run(self) -> PurgeReport:
        now = self.clock()

        def record(session: Session, rows: int) -> None:
            if rows:
                append(
                    session,
                    AuditAction.SNAPSHOTS_PURGED,
                    actor=ACTOR,
                    at=now,
                    details={
                        "rows_deleted": rows,
                        "default_days": self.default_days,
                        "live_view_s": self.live_view_s,
                    },
                )

        report = purge_expired_snapshots(
            self.db,
            self.files,
            now,
            default_days=self.default_days,
            live_view_s=self.live_view_s,
            record=record,
        )
        if report.rows_deleted:
            log.info(
                "retention: %d snapshots deleted (%d files, %d already missing)",
                report.rows_deleted,
                report.files_deleted,
                report.files_missing,
            )
        self.last = report
        return report
