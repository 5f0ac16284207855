"""Tables of web accounts: login credentials, invitations and browser sessions.

Secrets never sit in these tables in the clear: passwords are Argon2id hashes,
invitation tokens and session ids are SHA-256 digests of random values only the
browser (or the invited person's link) holds.

    >>> WebSession.__tablename__
    'web_sessions'
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models_registry import Role
from .types import Base, EnumText, Json, UTCDateTime


class Account(Base):
    """How one person logs in; at most one account per person."""

    __tablename__ = "accounts"

    person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed: Mapped[bool] = mapped_column(Boolean)
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Invitation(Base):
    """A one-time invitation to join a home in a role (the token is stored hashed)."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(EnumText(Role))
    grants: Mapped[list[str]] = mapped_column(Json)
    invited_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by: Mapped[str | None] = mapped_column(String(36))


class WebSession(Base):
    """One logged-in browser: the cookie holds a random id, the table its SHA-256."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    step_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
