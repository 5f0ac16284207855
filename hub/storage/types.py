"""Column types and the declarative base every hub table shares.

- ``UTCDateTime``: timezone-aware in Python, UTC in the database (SQLite has no
  time zones, so it stores naive UTC text there and gets the zone back on read).
- ``EnumText``: a Python ``StrEnum`` stored as plain text, so adding a member
  never needs an ``ALTER TYPE``.
- ``BigIntId``: 64-bit ids that are still SQLite's fast ``INTEGER PRIMARY KEY``.

    class Row(Base):
        at: Mapped[datetime] = mapped_column(UTCDateTime)
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from ..errors import InvalidValue

# Stable constraint names: Alembic needs them to alter or drop constraints later.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigIntId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON()


class Base(DeclarativeBase):
    """Declarative base of every hub table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware ``datetime`` kept in UTC; naive datetimes are refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidValue(
                f"naive datetime {value.isoformat()} given: pass an aware time "
                "(e.g. datetime.now(UTC))"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EnumText(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as its text value."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self.enum_cls(value).value
        except ValueError:
            allowed = ", ".join(m.value for m in self.enum_cls)
            raise InvalidValue(
                f"{value!r} is not a {self.enum_cls.__name__}: use one of {allowed}"
            ) from None

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum_cls(value)
