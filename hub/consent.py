"""A home's consent record: who agreed to the door recording what, and when to review it.

Under UK data protection and the Mental Capacity Act 2005, recording at someone's
door needs a lawful basis that is written down: the person's own consent, an
attorney's (health and welfare LPA) or a best-interests decision and who made it.
Each decision is a new row (the history stays); every one is audited by reference.

    record = record_consent(s, home_id, ConsentInput(basis="attorney", given_by="Ann Lee",
                            scope=["snapshots"], consented_on=d, review_on=d2), by=pid, at=now)
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from .audit import AuditAction, RefKind, append, person_ref, ref
from .errors import InvalidValue
from .storage.homes import get_home, get_person, memberships_of
from .storage.models_privacy import ConsentBasis, ConsentRecord, ConsentScope
from .storage.privacy import add_consent


class ConsentInput(BaseModel):
    """One consent decision as a person enters it."""

    model_config = ConfigDict(extra="forbid")

    basis: ConsentBasis = Field(description="person, attorney or best_interests")
    resident_id: str | None = Field(
        None, min_length=1, max_length=36, description="person id of the person cared for"
    )
    given_by: str | None = Field(
        None, min_length=1, max_length=200, description="name of who consented (or decided)"
    )
    given_by_person_id: str | None = Field(None, min_length=1, max_length=36)
    decided_by: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="best interests: who made the decision, in what role",
    )
    scope: list[ConsentScope] = Field(min_length=1, max_length=len(ConsentScope))
    consented_on: date
    review_on: date
    notes: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _complete(self) -> ConsentInput:
        if self.review_on <= self.consented_on:
            raise ValueError("review_on must come after consented_on: set a review date")
        if self.basis is ConsentBasis.ATTORNEY and not self.given_by:
            raise ValueError("an attorney's consent needs given_by: the attorney's name")
        if self.basis is ConsentBasis.BEST_INTERESTS and not self.decided_by:
            raise ValueError("a best-interests decision needs decided_by: who made it, their role")
        return self


def record_consent(
    session: Session, home_id: str, data: ConsentInput, *, by: str, at: datetime
) -> ConsentRecord:
    """Store a new decision for ``home_id`` (it becomes the one in force) and audit it."""
    get_home(session, home_id)  # raises UnknownHome
    _check_people(session, home_id, data)
    record = add_consent(
        session,
        ConsentRecord(
            id=str(uuid.uuid4()),
            home_id=home_id,
            resident_id=data.resident_id,
            basis=data.basis,
            given_by=data.given_by,
            given_by_person_id=data.given_by_person_id,
            decided_by=data.decided_by,
            scope=sorted({s.value for s in data.scope}),
            consented_on=data.consented_on,
            review_on=data.review_on,
            notes=data.notes,
            recorded_by=by,
            recorded_at=at,
        ),
    )
    subjects = [ref(RefKind.HOME, home_id), ref(RefKind.CONSENT, record.id)]
    subjects += [person_ref(p) for p in (data.resident_id, data.given_by_person_id) if p]
    # Names stay out of the chain (they can be erased); the decision's shape goes in.
    append(
        session,
        AuditAction.CONSENT_RECORDED,
        actor=person_ref(by),
        at=at,
        subjects=subjects,
        details={
            "basis": data.basis.value,
            "scope": record.scope,
            "consented_on": data.consented_on.isoformat(),
            "review_on": data.review_on.isoformat(),
        },
    )
    return record


def _check_people(session: Session, home_id: str, data: ConsentInput) -> None:
    for person_id in (data.resident_id, data.given_by_person_id):
        if person_id is not None:
            get_person(session, person_id)  # raises UnknownPerson
    if data.resident_id is not None:
        # Naming a resident widens what their subject-access export holds (this home's
        # events and pictures): only someone of this home, or of no home yet, may be named.
        homes = {m.home_id for m in memberships_of(session, data.resident_id)}
        if homes - {home_id}:
            raise InvalidValue(
                "resident_id names a person of another home: the person cared for here must "
                "belong to this home (or to none yet)"
            )


def consent_json(record: ConsentRecord, *, today: date | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "consent_id": record.id,
        "home": record.home_id,
        "resident_id": record.resident_id,
        "basis": record.basis.value,
        "given_by": record.given_by,
        "given_by_person_id": record.given_by_person_id,
        "decided_by": record.decided_by,
        "scope": list(record.scope),
        "consented_on": record.consented_on.isoformat(),
        "review_on": record.review_on.isoformat(),
        "notes": record.notes,
        "recorded_by": record.recorded_by,
        "recorded_at": record.recorded_at.isoformat(),
    }
    if today is not None:
        out["review_due"] = record.review_on <= today
    return out
