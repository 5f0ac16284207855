"""A carer's optional photo for one home, with the consent that allows it (issue 9).

PUT    /api/homes/{home}/carers/{carer}/photo   the carer themselves (their own consent), or
                                                the family owner (MANAGE_CARERS) with a
                                                statement of how the carer consented -> 201
DELETE /api/homes/{home}/carers/{carer}/photo   the carer or the owner: consent withdrawn -> 204
GET    /api/homes/{home}/carer-photos           MANAGE_CARERS: each photo's consent record
GET    /api/my/carer-photos                     the caller's own photos, one per home
GET    /api/carer-photos/{photo_id}             JPEG; whoever sees the home's ring pictures
                                                (VIEW_SNAPSHOTS, audited when by a grant) and
                                                the carer themselves

The picture travels as base64 in JSON, like every other body of this API (the CSRF
header, pydantic validation and the OpenAPI document work as for any route).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.carer_photos import (
    ConsentMissing,
    NotACarerHere,
    PhotoConsent,
    delete_photo,
    get_photo,
    photos_of_carer,
    photos_of_home,
    put_photo,
)
from hub.errors import NotFound
from hub.photo_image import MAX_UPLOAD_BYTES, NotAnImage, PhotoTooLarge
from hub.policy import Permission, by_grant, permissions
from hub.storage import get_home, memberships_of
from hub.storage.models_carer_photos import CarerPhoto, PhotoConsentBy
from hub.storage.models_registry import Role

from ..deps import CurrentPerson, HubDep, Now, authorise

router = APIRouter(prefix="/api", tags=["carer photos"])

# base64 grows 4/3; up to twice the limit still decodes to a clear 413, not a 422.
MAX_BASE64_CHARS = 2 * (MAX_UPLOAD_BYTES * 4 // 3 + 4)


class PhotoUpload(PhotoConsent):
    image: str = Field(
        min_length=4,
        max_length=MAX_BASE64_CHARS,
        description=f"a JPEG or PNG, base64, at most {MAX_UPLOAD_BYTES // 1024 // 1024} MB",
    )


def photo_url(photo_id: str) -> str:
    return f"/api/carer-photos/{photo_id}"


def photo_json(photo: CarerPhoto) -> dict[str, Any]:
    """A photo's consent record (never the picture itself)."""
    return {
        "photo_id": photo.id,
        "photo_url": photo_url(photo.id),
        "home": photo.home_id,
        "carer": photo.carer_id,
        "width": photo.width,
        "height": photo.height,
        "consent_by": photo.consent_by.value,
        "consent_statement": photo.consent_statement,
        "scope": list(photo.scope),
        "recorded_by": photo.recorded_by,
        "recorded_at": photo.recorded_at.isoformat(),
    }


def _as_whom(
    s: Session, person: str, home: str, carer: str, *, withdrawing: bool = False
) -> PhotoConsentBy:
    """The carer acts on their own photo; the owner on any carer's of the home."""
    # A carer may always withdraw their consent, even after leaving the home.
    if person == carer and (withdrawing or Permission.CHECK_IN in permissions(s, person, home)):
        return PhotoConsentBy.CARER
    authorise(s, person, home, Permission.MANAGE_CARERS)  # raises the plain 403
    return PhotoConsentBy.FAMILY_OWNER


@router.put("/homes/{home}/carers/{carer}/photo", status_code=201)
def upload(
    home: str, carer: str, body: PhotoUpload, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, Any]:
    with hub.db.session() as s:
        consent_by = _as_whom(s, person, home, carer)
        try:
            image = base64.b64decode(body.image, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "image is not base64: send the picture's bytes base64-encoded",
            ) from None
        consent = PhotoConsent(consent=body.consent, statement=body.statement)
        try:
            photo = put_photo(
                s, home, carer, image, consent, consent_by=consent_by, by=person, at=now
            )
        except PhotoTooLarge as exc:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
        except (NotAnImage, ConsentMissing) as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        except (NotACarerHere, NotFound) as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        except IntegrityError:  # another upload for this carer won the race
            raise HTTPException(
                status.HTTP_409_CONFLICT, "another photo was added at the same moment: try again"
            ) from None
        return photo_json(photo)


@router.delete("/homes/{home}/carers/{carer}/photo", status_code=204)
def withdraw(home: str, carer: str, person: CurrentPerson, hub: HubDep, now: Now) -> None:
    with hub.db.session() as s:
        _as_whom(s, person, home, carer, withdrawing=True)
        if not delete_photo(s, home, carer, by=person, at=now):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this carer has no photo in this home")


@router.get("/homes/{home}/carer-photos")
def home_photos(home: str, person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        return [photo_json(p) for p in photos_of_home(s, home)]


@router.get("/my/carer-photos")
def my_photos(person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    """Each home the caller is a carer of, with their photo there (or null)."""
    with hub.db.read_session() as s:
        mine = {p.home_id: p for p in photos_of_carer(s, person)}
        carer_of = (m for m in memberships_of(s, person) if Role(m.role) is Role.CARER)
        homes = {m.home_id for m in carer_of} | set(mine)
        out = []
        for home_id in sorted(homes):
            photo = mine.get(home_id)
            out.append(
                {
                    "home": home_id,
                    "home_name": get_home(s, home_id).name,
                    "photo": photo_json(photo) if photo else None,
                }
            )
        return out


@router.get("/carer-photos/{photo_id}", response_class=Response)
def picture(photo_id: str, person: CurrentPerson, hub: HubDep, now: Now) -> Response:
    with hub.db.read_session() as s:
        photo = get_photo(s, photo_id)
        if photo is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such photo (or consent withdrawn)")
        home, carer = photo.home_id, photo.carer_id
        # Mirrors the ring's snapshots: whoever may see those may see who was expected.
        if person != carer:
            authorise(s, person, home, Permission.VIEW_SNAPSHOTS)
        audited = person != carer and by_grant(s, person, home, Permission.VIEW_SNAPSHOTS)
        jpeg = photo.jpeg
    if audited:
        with hub.db.session() as s:
            append(
                s,
                AuditAction.CARER_PHOTO_VIEWED,
                actor=person_ref(person),
                at=now,
                subjects=[ref(RefKind.HOME, home), person_ref(carer)],
                details={"by_grant": Permission.VIEW_SNAPSHOTS.value, "photo": photo_id},
            )
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
