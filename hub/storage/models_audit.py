"""Tables of the audit log: the entries, the head they chain to, signed checkpoints,
and an index of which entries name which reference.

The hashing and checking live in ``hub.audit``; these are only the rows. Entries
refer to people and devices by id, so erasing a person never touches the chain.

    >>> AuditHead.__tablename__
    'audit_head'
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, Json, UTCDateTime

HEAD_ROW_ID = 1
GENESIS_HASH = "0" * 64


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40), index=True)
    subjects: Mapped[list[str]] = mapped_column(Json)
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditRefRow(Base):
    """Which entries name a reference (as actor or subject): an index, not part of the chain.

    One row per distinct reference of each entry, written with the entry by the one
    append, so reading "entries naming home:h1" is an index range, not a scan of the
    chain. The chain's verification does not depend on it; ``audit verify`` checks it
    against the entries separately (``audit reindex`` rebuilds it). No foreign key, so
    tampering with the entries (which verification must see) is not blocked or hidden.
    """

    __tablename__ = "audit_refs"

    ref: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class AuditHead(Base):
    """The single row every append locks: it serialises appends across hub processes."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """A signed statement of the head; the envelope is kept verbatim (it is what was signed)."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    key_id: Mapped[str] = mapped_column(String(16))
    envelope: Mapped[str] = mapped_column(Text)
