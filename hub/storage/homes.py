"""Homes, people and who plays which role in which home.

Only ``people`` holds personal data; ``erase_person`` deletes that row and the
person's memberships, and nothing else needs to change (the audit log and command
history keep the bare id).

    home = create_home(s, name="Anna's", timezone="Europe/London", at=now)
    bob = create_person(s, display_name="Bob", at=now)
    add_membership(s, person_id=bob.id, home_id=home.id, role=Role.CARER, at=now)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..errors import InvalidValue, UnknownHome, UnknownPerson
from ._dialect import upsert_insert
from .in_batches import read_in_batches
from .models_registry import Grant, Home, Membership, Person, Role

DEFAULT_RETENTION_DAYS = 30


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            f"time zone {name!r} is unknown: use an IANA name such as 'Europe/London'"
        ) from None
    return name


def _check_retention(days: int) -> int:
    if not 1 <= days <= 3650:
        raise InvalidValue(f"retention of {days} days: choose 1 to 3650 days")
    return days


def create_home(
    session: Session,
    *,
    name: str,
    timezone: str,
    at: datetime,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    policies: Mapping[str, Any] | None = None,
    home_id: str | None = None,
) -> Home:
    home = Home(
        id=home_id or str(uuid.uuid4()),
        name=name,
        timezone=_check_timezone(timezone),
        retention_days=_check_retention(retention_days),
        policies=dict(policies or {}),
        created_at=at,
    )
    session.add(home)
    session.flush()
    return home


def get_home(session: Session, home_id: str) -> Home:
    home = session.get(Home, home_id)
    if home is None:
        raise UnknownHome(f"home {home_id!r} does not exist: create it first")
    return home


def homes_by_id(session: Session, home_ids: Iterable[str]) -> list[Home]:
    """Several homes in one read per batch (a membership always names an existing home)."""
    return read_in_batches(session, home_ids, lambda ids: select(Home).where(Home.id.in_(ids)))


def update_home(
    session: Session,
    home_id: str,
    *,
    name: str | None = None,
    timezone: str | None = None,
    retention_days: int | None = None,
    policies: Mapping[str, Any] | None = None,
) -> Home:
    """Change the fields given (others stay as they are)."""
    home = get_home(session, home_id)
    if name is not None:
        home.name = name
    if timezone is not None:
        home.timezone = _check_timezone(timezone)
    if retention_days is not None:
        home.retention_days = _check_retention(retention_days)
    if policies is not None:
        home.policies = dict(policies)
    session.flush()
    return home


def create_person(
    session: Session,
    *,
    display_name: str,
    at: datetime,
    contact: Mapping[str, Any] | None = None,
    person_id: str | None = None,
) -> Person:
    person = Person(
        id=person_id or str(uuid.uuid4()),
        display_name=display_name,
        contact=dict(contact or {}),
        created_at=at,
    )
    session.add(person)
    session.flush()
    return person


def get_person(session: Session, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise UnknownPerson(f"person {person_id!r} does not exist (or was erased)")
    return person


def erase_person(session: Session, person_id: str) -> bool:
    """Delete a person's personal data and memberships; True if there was anything."""
    session.execute(delete(Membership).where(Membership.person_id == person_id))
    # ORM-enabled DELETE also drops matching objects from the session.
    result = session.execute(delete(Person).where(Person.id == person_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_membership(
    session: Session,
    *,
    person_id: str,
    home_id: str,
    role: Role,
    at: datetime,
    grants: Iterable[Grant | str] = (),
) -> Membership:
    """Give ``person_id`` a role in ``home_id``; giving it again replaces its grants."""
    get_person(session, person_id)
    get_home(session, home_id)
    try:
        grant_values = sorted({Grant(g).value for g in grants})
    except ValueError as exc:
        raise InvalidValue(f"{exc}: grants are {', '.join(g.value for g in Grant)}") from None
    stmt = upsert_insert(session, Membership).values(
        person_id=person_id, home_id=home_id, role=Role(role), grants=grant_values, created_at=at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["person_id", "home_id", "role"], set_={"grants": grant_values}
    )
    session.execute(stmt)
    return session.scalars(
        select(Membership)
        .where(Membership.person_id == person_id)
        .where(Membership.home_id == home_id)
        .where(Membership.role == Role(role))
        .execution_options(populate_existing=True)
    ).one()


def remove_membership(
    session: Session, *, person_id: str, home_id: str, role: Role | None = None
) -> int:
    """Remove one role (or, with ``role=None``, every role) of a person in a home."""
    stmt = delete(Membership).where(
        Membership.person_id == person_id, Membership.home_id == home_id
    )
    if role is not None:
        stmt = stmt.where(Membership.role == Role(role))
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def memberships_of(session: Session, person_id: str) -> list[Membership]:
    return list(
        session.scalars(
            select(Membership).where(Membership.person_id == person_id).order_by(Membership.id)
        )
    )


def members_of(session: Session, home_id: str, role: Role | None = None) -> list[Membership]:
    stmt = select(Membership).where(Membership.home_id == home_id)
    if role is not None:
        stmt = stmt.where(Membership.role == Role(role))
    return list(session.scalars(stmt.order_by(Membership.id)))
