"""A carer's optional photo, shown to one home's family, only with the carer's consent.

The family sees "expected now: Sam (Bright Care), 09:00–09:30" on the ring screen;
a photo next to the name helps them know who is at the door. A photo of a person is
personal data, so the hub keeps one only with consent, recorded with it: given by
the carer themselves (their own tick), or recorded by the home's family owner, who
writes down how the carer agreed. The consent covers one home: that home's family
and members, on the ring screen and the carers page. Withdrawing it (deleting the
photo) removes the picture at once. Every change is audited by reference only:
the chain never holds the picture or the statement.

    photo = put_photo(s, home, carer, jpeg_bytes, PhotoConsent(consent=True),
                      consent_by=PhotoConsentBy.CARER, by=carer, at=now)
    delete_photo(s, home, carer, by=carer, at=now)          # consent withdrawn
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .audit import AuditAction, RefKind, append, person_ref, ref
from .photo_image import PhotoError, reencode
from .storage.homes import get_home, get_person, members_of
from .storage.models_carer_photos import CarerPhoto, PhotoConsentBy
from .storage.models_registry import Role

# Where a photo may be shown: nowhere else (not telecare's dashboard, not exports).
SCOPE = ["ring_screen", "carers_page"]
MIN_STATEMENT = 10  # "he agreed" is not a record; say how and when


class ConsentMissing(PhotoError):
    """No consent (or no account of it): no photo."""


class NotACarerHere(PhotoError):
    """The person is not a carer of this home."""


class PhotoConsent(BaseModel):
    """The consent that comes with an upload."""

    model_config = ConfigDict(extra="forbid")

    consent: bool = Field(
        description="the carer agrees that this home's family sees this photo "
        "on the ring screen and the carers page"
    )
    statement: str | None = Field(
        None,
        max_length=1000,
        description="how the carer consented (required when the family owner records it)",
    )


def put_photo(
    session: Session,
    home_id: str,
    carer_id: str,
    image: bytes,
    consent: PhotoConsent,
    *,
    consent_by: PhotoConsentBy,
    by: str,
    at: datetime,
) -> CarerPhoto:
    """Store (or replace) the carer's photo for this home with its consent; audited."""
    get_home(session, home_id)  # raises UnknownHome
    get_person(session, carer_id)  # raises UnknownPerson
    if not is_carer_of(session, home_id, carer_id):
        raise NotACarerHere("this person is not a carer of this home: invite them as a carer first")
    statement = (consent.statement or "").strip() or None
    _check_consent(consent, statement, consent_by=consent_by, carer_id=carer_id, by=by)
    jpeg, width, height = reencode(image)  # raises PhotoTooLarge / NotAnImage
    session.execute(
        delete(CarerPhoto).where(CarerPhoto.home_id == home_id, CarerPhoto.carer_id == carer_id)
    )
    session.flush()  # the unique (home, carer) is free before the new row goes in
    photo = CarerPhoto(
        id=str(uuid.uuid4()),
        home_id=home_id,
        carer_id=carer_id,
        jpeg=jpeg,
        width=width,
        height=height,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        consent_by=consent_by,
        consent_statement=statement,
        scope=list(SCOPE),
        recorded_by=by,
        recorded_at=at,
    )
    session.add(photo)
    session.flush()
    append(
        session,
        AuditAction.CARER_PHOTO_ADDED,
        actor=person_ref(by),
        at=at,
        subjects=[ref(RefKind.HOME, home_id), person_ref(carer_id)],
        details={"consent_by": consent_by.value, "scope": list(SCOPE), "photo": photo.id},
    )
    return photo


def _check_consent(
    consent: PhotoConsent,
    statement: str | None,
    *,
    consent_by: PhotoConsentBy,
    carer_id: str,
    by: str,
) -> None:
    if not consent.consent:
        raise ConsentMissing(
            "no consent, no photo: the carer must agree that this home's family sees it"
        )
    if consent_by is PhotoConsentBy.CARER and by != carer_id:
        raise ConsentMissing("only the carer can give their own consent: record it as the owner")
    if consent_by is PhotoConsentBy.FAMILY_OWNER and len(statement or "") < MIN_STATEMENT:
        raise ConsentMissing(
            "say how the carer consented (e.g. 'Sam agreed in person on 3 March'), "
            f"in at least {MIN_STATEMENT} characters"
        )


def is_carer_of(session: Session, home_id: str, person_id: str) -> bool:
    return any(m.person_id == person_id for m in members_of(session, home_id, Role.CARER))


def photo_of(session: Session, home_id: str, carer_id: str) -> CarerPhoto | None:
    return session.scalars(
        select(CarerPhoto).where(CarerPhoto.home_id == home_id, CarerPhoto.carer_id == carer_id)
    ).one_or_none()


def get_photo(session: Session, photo_id: str) -> CarerPhoto | None:
    return session.get(CarerPhoto, photo_id)


def photos_of_home(session: Session, home_id: str) -> list[CarerPhoto]:
    return list(
        session.scalars(
            select(CarerPhoto).where(CarerPhoto.home_id == home_id).order_by(CarerPhoto.carer_id)
        )
    )


def photos_of_carer(session: Session, carer_id: str) -> list[CarerPhoto]:
    return list(
        session.scalars(
            select(CarerPhoto).where(CarerPhoto.carer_id == carer_id).order_by(CarerPhoto.home_id)
        )
    )


def photo_ids_of_home(session: Session, home_id: str) -> dict[str, str]:
    """carer id -> photo id, for carers of ``home_id`` who have a photo (no picture bytes)."""
    rows = session.execute(
        select(CarerPhoto.carer_id, CarerPhoto.id).where(CarerPhoto.home_id == home_id)
    )
    return {carer: photo for carer, photo in rows}


def delete_photo(
    session: Session,
    home_id: str,
    carer_id: str,
    *,
    by: str,
    at: datetime,
    reason: Literal["consent_withdrawn", "carer_removed"] = "consent_withdrawn",
) -> bool:
    """Delete the photo (audited with ``reason``): consent withdrawn, or the carer no
    longer visits this home. False when there was none."""
    photo = photo_of(session, home_id, carer_id)
    if photo is None:
        return False
    photo_id = photo.id
    session.delete(photo)
    session.flush()
    append(
        session,
        AuditAction.CARER_PHOTO_REMOVED,
        actor=person_ref(by),
        at=at,
        subjects=[ref(RefKind.HOME, home_id), person_ref(carer_id)],
        details={"photo": photo_id, "reason": reason},
    )
    return True


def delete_for_person(session: Session, person_id: str) -> int:
    """Erasure: delete every photo of ``person_id`` (the erasure's own entry audits it)."""
    result = session.execute(delete(CarerPhoto).where(CarerPhoto.carer_id == person_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
