"""Visit records and the check-in policy: the storage half of ``hub.visit_records`` and
``hub.check_in_policy`` (which hold the rules).

    ensure_record(s, window, start_utc, end_utc, at=now)    # idempotent per occurrence
    open_records(s)                                         # not final yet, oldest first
    claim_non_arrival(s, record_id, at=now)                 # True for exactly one caller
    set_family_approves(s, home, True, by=owner, at=now)
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..errors import NotFound
from ._dialect import upsert_insert
from .models_visit_records import (
    ApprovalStatus,
    AutoUnlockCarer,
    CheckInApproval,
    VisitPolicy,
    VisitRecord,
    VisitStatus,
)
from .models_visits import VisitWindow


def ensure_record(
    session: Session, window: VisitWindow, start: datetime, end: datetime, *, at: datetime
) -> None:
    """The record of this occurrence exists afterwards (several processes may race: harmless)."""
    stmt = (
        upsert_insert(session, VisitRecord)
        .values(
            window_id=window.id,
            home_id=window.home_id,
            carer_id=window.carer_id,
            agency=window.agency,
            planned_start=start,
            planned_end=end,
            tolerance_min=window.tolerance_min,
            status=VisitStatus.EXPECTED,
            late=False,
            final=False,
            updated_at=at,
        )
        .on_conflict_do_nothing(index_elements=["window_id", "planned_start"])
    )
    session.execute(stmt)


def open_records(session: Session, home_id: str | None = None) -> list[VisitRecord]:
    stmt = select(VisitRecord).where(VisitRecord.final.is_(False))
    if home_id is not None:
        stmt = stmt.where(VisitRecord.home_id == home_id)
    stmt = stmt.order_by(VisitRecord.planned_start, VisitRecord.id)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def latest_starts(session: Session, *, since: datetime) -> dict[str, datetime]:
    """Planned start of each window's newest record since ``since`` (where the next pass
    picks up); older records are never read again."""
    stmt = (
        select(VisitRecord.window_id, func.max(VisitRecord.planned_start))
        .where(VisitRecord.planned_start >= since)
        .group_by(VisitRecord.window_id)
    )
    return {window: start for window, start in session.execute(stmt)}


def records_between(
    session: Session,
    home_id: str,
    since: datetime,
    until: datetime,
    carer_id: str | None = None,
) -> list[VisitRecord]:
    """Records of a home planned to start in ``since <= start < until``, in order."""
    stmt = select(VisitRecord).where(
        VisitRecord.home_id == home_id,
        VisitRecord.planned_start >= since,
        VisitRecord.planned_start < until,
    )
    if carer_id is not None:
        stmt = stmt.where(VisitRecord.carer_id == carer_id)
    stmt = stmt.order_by(VisitRecord.planned_start, VisitRecord.id)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def claim_non_arrival(session: Session, record_id: int, *, at: datetime) -> bool:
    """Mark the non-arrival as told; True only for the one caller that did it first."""
    result = session.execute(
        update(VisitRecord)
        .where(VisitRecord.id == record_id, VisitRecord.non_arrival_notified_at.is_(None))
        .values(non_arrival_notified_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- the home's check-in policy -------------------------------------------------------
def family_approves(session: Session, home_id: str) -> bool:
    policy = session.get(VisitPolicy, home_id)
    return bool(policy and policy.family_approves_check_in)


def set_family_approves(
    session: Session, home_id: str, enabled: bool, *, by: str, at: datetime
) -> None:
    policy = session.get(VisitPolicy, home_id)
    if policy is None:
        session.add(
            VisitPolicy(
                home_id=home_id, family_approves_check_in=enabled, changed_by=by, changed_at=at
            )
        )
    else:
        policy.family_approves_check_in = enabled
        policy.changed_by = by
        policy.changed_at = at
    session.flush()


def auto_unlock_enabled(session: Session, home_id: str, carer_id: str) -> AutoUnlockCarer | None:
    return session.get(AutoUnlockCarer, (home_id, carer_id))


def auto_unlock_carers(session: Session, home_id: str) -> list[AutoUnlockCarer]:
    stmt = select(AutoUnlockCarer).where(AutoUnlockCarer.home_id == home_id)
    return list(session.scalars(stmt.order_by(AutoUnlockCarer.enabled_at)))


def enable_auto_unlock(
    session: Session, home_id: str, carer_id: str, *, by: str, at: datetime
) -> bool:
    """True if it was off before."""
    if auto_unlock_enabled(session, home_id, carer_id) is not None:
        return False
    session.add(AutoUnlockCarer(home_id=home_id, carer_id=carer_id, enabled_by=by, enabled_at=at))
    session.flush()
    return True


def disable_auto_unlock(session: Session, home_id: str, carer_id: str) -> bool:
    result = session.execute(
        delete(AutoUnlockCarer).where(
            AutoUnlockCarer.home_id == home_id, AutoUnlockCarer.carer_id == carer_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# -- approvals ----------------------------------------------------------------------
def add_approval(
    session: Session,
    *,
    home_id: str,
    window_id: str,
    carer_id: str,
    at: datetime,
    expires_at: datetime,
) -> CheckInApproval:
    row = CheckInApproval(
        id=str(uuid.uuid4()),
        home_id=home_id,
        window_id=window_id,
        carer_id=carer_id,
        requested_at=at,
        expires_at=expires_at,
        status=ApprovalStatus.PENDING,
    )
    session.add(row)
    session.flush()
    return row


def get_approval(session: Session, approval_id: str) -> CheckInApproval:
    row = session.get(CheckInApproval, approval_id, populate_existing=True)
    if row is None:
        raise NotFound(f"check-in approval {approval_id!r} does not exist")
    return row


def pending_approvals(session: Session, home_id: str, at: datetime) -> list[CheckInApproval]:
    stmt = select(CheckInApproval).where(
        CheckInApproval.home_id == home_id,
        CheckInApproval.status == ApprovalStatus.PENDING,
        CheckInApproval.expires_at > at,
    )
    return list(session.scalars(stmt.order_by(CheckInApproval.requested_at)))


def decide_approval(session: Session, approval_id: str, *, by: str, at: datetime) -> bool:
    """Pending -> approved; True only for the one caller that decided it first."""
    result = session.execute(
        update(CheckInApproval)
        .where(
            CheckInApproval.id == approval_id,
            CheckInApproval.status == ApprovalStatus.PENDING,
            CheckInApproval.expires_at > at,
        )
        .values(status=ApprovalStatus.APPROVED, decided_by=by, decided_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_approval_command(session: Session, approval_id: str, command_id: str) -> None:
    session.execute(
        update(CheckInApproval)
        .where(CheckInApproval.id == approval_id)
        .values(command_id=command_id)
        .execution_options(synchronize_session=False)
    )
