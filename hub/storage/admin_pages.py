"""The administration lists, a page at a time: doors and people an admin may see.

An admin sees the doors of the homes where they hold the admin role plus the doors
in no home yet, and the people with a role in those homes. Both lists are filtered
in SQL and paged by id (keyset: ``after=<last id of the page>``), so a council hub
with 100,000 doors answers a page as fast as a hub with ten.

    first = devices_page(s, admin_id=pid, limit=100)
    more = devices_page(s, admin_id=pid, after=first[-1].id, limit=100, prefix="door-")
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from .models_registry import Device, Membership, Person, Role


@dataclass(frozen=True, slots=True)
class PersonRoles:
    """One person on the admin's list, with only their roles in the admin's homes."""

    person_id: str
    display_name: str | None
    memberships: list[Membership]


def admin_homes(admin_id: str) -> Select[tuple[str]]:
    """The homes where ``admin_id`` holds the admin role, as a subquery for ``IN``."""
    return select(Membership.home_id).where(
        Membership.person_id == admin_id, Membership.role == Role.ADMIN
    )


def devices_page(
    session: Session,
    *,
    admin_id: str,
    after: str | None = None,
    limit: int = 100,
    prefix: str | None = None,
) -> list[Device]:
    """Active doors in no home or in ``admin_id``'s homes, by id, after ``after``.

    ``prefix`` keeps doors whose id or name starts with it (names ignoring case).
    """
    stmt = select(Device).where(
        Device.revoked_at.is_(None),
        or_(Device.home_id.is_(None), Device.home_id.in_(admin_homes(admin_id))),
    )
    if after is not None:
        stmt = stmt.where(Device.id > after)
    if prefix:
        stmt = stmt.where(_starts(Device.id, Device.name, prefix))
    return list(session.scalars(stmt.order_by(Device.id).limit(limit)))


def people_page(
    session: Session,
    *,
    admin_id: str,
    after: str | None = None,
    limit: int = 100,
    prefix: str | None = None,
) -> list[PersonRoles]:
    """People with a role in ``admin_id``'s homes, by id, after ``after``, with those roles.

    ``prefix`` keeps people whose id or display name starts with it (names ignoring case).
    """
    mine = admin_homes(admin_id)
    ids = select(Membership.person_id).where(Membership.home_id.in_(mine)).distinct()
    if after is not None:
        ids = ids.where(Membership.person_id > after)
    if prefix:
        ids = ids.join(Person, Person.id == Membership.person_id).where(
            _starts(Membership.person_id, Person.display_name, prefix)
        )
    page = list(session.scalars(ids.order_by(Membership.person_id).limit(limit)))
    if not page:
        return []
    found = session.execute(select(Person.id, Person.display_name).where(Person.id.in_(page)))
    names = {r.id: r.display_name for r in found}
    held: dict[str, list[Membership]] = {p: [] for p in page}
    roles = (
        select(Membership)
        .where(Membership.person_id.in_(page), Membership.home_id.in_(mine))
        .order_by(Membership.id)
    )
    for m in session.scalars(roles):
        held[m.person_id].append(m)
    return [PersonRoles(p, names.get(p), held[p]) for p in page]


def _starts(
    ident: ColumnElement[str], name: ColumnElement[str], prefix: str
) -> ColumnElement[bool]:
    # autoescape: a "%" or "_" typed by the admin is a character, not a wildcard.
    return or_(
        ident.startswith(prefix, autoescape=True),
        func.lower(name).startswith(prefix.lower(), autoescape=True),
    )
