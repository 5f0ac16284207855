"""Who may do what in a home: one table, used by the command service and every web route.

Secure by default: a permission not listed for a role is refused. Grants on a
membership add exactly one right each (e.g. a telecare officer may see snapshots).

    >>> Permission.UNLOCK in ROLE_PERMISSIONS[Role.FAMILY_MEMBER]
    True
    >>> Permission.UNLOCK in ROLE_PERMISSIONS[Role.TELECARE_OFFICER]
    False
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from .errors import HubError
from .storage.homes import memberships_of
from .storage.models_registry import Grant, Role


class NotAuthorised(HubError, PermissionError):
    """The person has no right to do this in this home."""


class Permission(StrEnum):
    VIEW_HEALTH = "view_health"  # online, last seen, versions, alerts
    ACK_ALERTS = "ack_alerts"
    VIEW_EVENTS = "view_events"  # rings, door and lock history
    VIEW_SNAPSHOTS = "view_snapshots"
    UNLOCK = "unlock"
    LIVE_VIEW = "live_view"  # also on-demand snapshots
    SET_PRIVACY = "set_privacy"
    MANAGE_CARERS = "manage_carers"  # carers and their visit windows
    INVITE_FAMILY = "invite_family"
    READ_AUDIT = "read_audit"
    CHECK_IN = "check_in"  # a carer's "I'm here"
    ADMINISTER = "administer"  # homes, devices, people, roles
    # Care (issue 9): escalation order and break-glass; the officer's right is time-boxed
    # and audited per use (hub.break_glass), never a standing unlock.
    MANAGE_ESCALATION = "manage_escalation"
    BREAK_GLASS = "break_glass"
    REVIEW_BREAK_GLASS = "review_break_glass"
    # Privacy (issue 9): record consent for a home; see which consent reviews are due.
    MANAGE_CONSENT = "manage_consent"
    REVIEW_CONSENT = "review_consent"


_FAMILY = {
    Permission.VIEW_HEALTH,
    Permission.ACK_ALERTS,
    Permission.VIEW_EVENTS,
    Permission.VIEW_SNAPSHOTS,
    Permission.UNLOCK,
    Permission.LIVE_VIEW,
    Permission.READ_AUDIT,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.FAMILY_OWNER: frozenset(
        _FAMILY
        | {Permission.SET_PRIVACY, Permission.MANAGE_CARERS, Permission.INVITE_FAMILY}
        | {Permission.MANAGE_ESCALATION, Permission.REVIEW_BREAK_GLASS}  # issue 9
        | {Permission.MANAGE_CONSENT}  # issue 9: privacy
    ),
    Role.FAMILY_MEMBER: frozenset(_FAMILY),
    Role.CARER: frozenset({Permission.CHECK_IN}),
    Role.TELECARE_OFFICER: frozenset(
        {Permission.VIEW_HEALTH, Permission.ACK_ALERTS, Permission.BREAK_GLASS}  # issue 9
        | {Permission.REVIEW_CONSENT}  # issue 9: privacy
    ),
    Role.ADMIN: frozenset(
        {Permission.ADMINISTER, Permission.VIEW_HEALTH, Permission.REVIEW_BREAK_GLASS}  # issue 9
        | {Permission.MANAGE_CONSENT, Permission.REVIEW_CONSENT}  # issue 9: privacy
    ),
}

GRANT_PERMISSIONS: dict[Grant, dict[Role, frozenset[Permission]]] = {
    Grant.TELECARE_MAY_VIEW_SNAPSHOTS: {
        Role.TELECARE_OFFICER: frozenset({Permission.VIEW_SNAPSHOTS, Permission.VIEW_EVENTS}),
    },
    Grant.TELECARE_MAY_UNLOCK: {Role.TELECARE_OFFICER: frozenset({Permission.UNLOCK})},
    Grant.MAY_UNLOCK: {Role.CARER: frozenset({Permission.UNLOCK})},
}


def permissions(session: Session, person_id: str, home_id: str) -> set[Permission]:
    """Everything ``person_id`` may do in ``home_id`` (empty when not a member)."""
    return permissions_by_home(session, person_id).get(home_id, set())


def permissions_by_home(session: Session, person_id: str) -> dict[str, set[Permission]]:
    """Everything ``person_id`` may do, per home they belong to: one read of their
    memberships, for routes over many homes (an officer may watch hundreds)."""
    allowed: dict[str, set[Permission]] = {}
    for m in memberships_of(session, person_id):
        role = Role(m.role)
        rights = allowed.setdefault(m.home_id, set())
        rights |= ROLE_PERMISSIONS[role]
        for grant in m.grants:
            rights |= GRANT_PERMISSIONS.get(Grant(grant), {}).get(role, frozenset())
    return allowed


def by_grant(session: Session, person_id: str, home_id: str, permission: Permission) -> bool:
    """True when ``permission`` comes only from a grant (such use is audited)."""
    base: set[Permission] = set()
    for m in memberships_of(session, person_id):
        if m.home_id == home_id:
            base |= ROLE_PERMISSIONS[Role(m.role)]
    return permission not in base


def require(session: Session, person_id: str, home_id: str | None, permission: Permission) -> None:
    if home_id is None or permission not in permissions(session, person_id, home_id):
        raise NotAuthorised(
            f"you may not {permission.value.replace('_', ' ')} for this home; "
            "ask the home's family owner for access"
        )
