"""Consent records and erasures: the rows, and nothing else.

add_consent(s, ConsentRecord(...))
current_consent(s, home_id)            # the newest record, or None
reviews_due(s, home_ids, on=date.today())
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from .models_privacy import ConsentBasis, ConsentRecord, PersonErasure
from .models_registry import Device


def add_consent(session: Session, record: ConsentRecord) -> ConsentRecord:
    session.add(record)
    session.flush()
    return record


def consent_history(session: Session, home_id: str) -> list[ConsentRecord]:
    """Every record of a home, newest first."""
    stmt = (
        select(ConsentRecord)
        .where(ConsentRecord.home_id == home_id)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id)
    )
    return list(session.scalars(stmt))


def current_consent(session: Session, home_id: str) -> ConsentRecord | None:
    history = consent_history(session, home_id)
    return history[0] if history else None


def reviews_due(session: Session, home_ids: Collection[str], *, on: date) -> list[ConsentRecord]:
    """The record in force of each of ``home_ids`` whose review date is ``on`` or earlier."""
    if not home_ids:
        return []
    newest = (
        select(ConsentRecord.home_id, func.max(ConsentRecord.recorded_at).label("at"))
        .where(ConsentRecord.home_id.in_(sorted(home_ids)))
        .group_by(ConsentRecord.home_id)
        .subquery()
    )
    stmt = (
        select(ConsentRecord)
        .join(
            newest,
            (ConsentRecord.home_id == newest.c.home_id)
            & (ConsentRecord.recorded_at == newest.c.at),
        )
        .where(ConsentRecord.review_on <= on)
        .order_by(ConsentRecord.review_on, ConsentRecord.home_id)
    )
    return list(session.scalars(stmt))


def consents_naming(session: Session, person_id: str) -> list[ConsentRecord]:
    """Records where ``person_id`` is the person cared for or the one who consented."""
    stmt = (
        select(ConsentRecord)
        .where(
            or_(
                ConsentRecord.resident_id == person_id,
                ConsentRecord.given_by_person_id == person_id,
            )
        )
        .order_by(ConsentRecord.recorded_at)
    )
    return list(session.scalars(stmt))


def resident_homes(session: Session, person_id: str) -> list[str]:
    """Homes whose consent records name ``person_id`` as the person cared for."""
    stmt = select(ConsentRecord.home_id).where(ConsentRecord.resident_id == person_id).distinct()
    return sorted(session.scalars(stmt))


def blank_consent_names(session: Session, person_id: str) -> int:
    """Remove a person's name and notes from consent records; the decision itself stays."""
    rows = 0
    # Their own consent: the name given is theirs.
    rows += _count(
        session.execute(
            update(ConsentRecord)
            .where(
                or_(
                    ConsentRecord.given_by_person_id == person_id,
                    (ConsentRecord.resident_id == person_id)
                    & (ConsentRecord.basis == ConsentBasis.PERSON),
                )
            )
            .values(given_by=None)
        )
    )
    # Notes about the person cared for are about them.
    rows += _count(
        session.execute(
            update(ConsentRecord)
            .where(ConsentRecord.resident_id == person_id, ConsentRecord.notes.is_not(None))
            .values(notes=None)
        )
    )
    return rows


def record_reported_privacy(session: Session, device_id: str, privacy: bool, seq: int) -> bool:
    """The door's ``privacy_changed`` event: keep its switch unless a newer state is stored.

    The door's retained state (sent just after) carries the same switch and seq; this
    only makes the event enough on its own. False when a newer state was there first.
    """
    result = session.execute(
        update(Device)
        .where(Device.id == device_id)
        .where(or_(Device.state_seq.is_(None), Device.state_seq < seq))
        .values(privacy=privacy)
        .execution_options(synchronize_session=False)
    )
    return _count(result) > 0


def record_erasure(session: Session, erasure: PersonErasure) -> PersonErasure:
    session.add(erasure)
    session.flush()
    return erasure


def find_erasure(session: Session, person_id: str) -> PersonErasure | None:
    return session.get(PersonErasure, person_id)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
