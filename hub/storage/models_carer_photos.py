"""Table of carers' photos: one per carer per home, with the consent that allows it.

A carer's photo is shown only to the family of one home (ring screen and carers
page), so consent is given for that home: the photo row *is* the consent record in
force. Withdrawing consent deletes the row (and with it the picture); the audit log
keeps that consent was given and withdrawn, when and by whom, without the picture
or the statement (which may name people).

The JPEG is re-encoded by the hub (no metadata, at most 512 px) and small enough to
live in the row itself.

    >>> CarerPhoto.__tablename__
    'carer_photos'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, EnumText, Json, UTCDateTime


class PhotoConsentBy(StrEnum):
    """How the carer's consent reached the hub."""

    CARER = "carer"  # the carer ticked the box themselves
    FAMILY_OWNER = "family_owner"  # the home's owner recorded it, saying how it was given


class CarerPhoto(Base):
    __tablename__ = "carer_photos"
    __table_args__ = (UniqueConstraint("home_id", "carer_id"),)

    # A new id for every upload: photo URLs change with the picture (no stale caches).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The unique (home_id, carer_id) serves lookups by home.
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"))
    # Erasing the carer removes their photos with them.
    carer_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    consent_by: Mapped[PhotoConsentBy] = mapped_column(EnumText(PhotoConsentBy))
    # The owner's account of how the carer consented; the carer's own wording otherwise.
    consent_statement: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[list[str]] = mapped_column(Json)  # where it may be shown
    recorded_by: Mapped[str] = mapped_column(String(36))  # person id (the carer or the owner)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when consent was recorded
