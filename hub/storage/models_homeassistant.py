"""Tables of the Home Assistant bridge: which doors an admin opted in (off by default).

A row means "announce this door to Home Assistant". ``person_id`` is the one family
member whose authenticator code Home Assistant must pass along with an unlock; with
none linked, the lock is shown but every command from Home Assistant is refused.
``share_snapshots`` lets the last ring's picture go to Home Assistant (off by default).

    >>> HomeAssistantLink.__tablename__
    'home_assistant_links'
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, UTCDateTime


class HomeAssistantLink(Base):
    """One door opted in to Home Assistant discovery."""

    __tablename__ = "home_assistant_links"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    # Erasing the person unlinks them: the door stays announced, its lock refuses.
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    share_snapshots: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
