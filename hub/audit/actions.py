"""What the audit log records: the actions, and references to who and what.

An entry names people, devices and commands only by reference (``kind:id``);
personal data stays in ordinary tables, so erasing it never touches the chain.

    >>> person_ref("7f1c")
    'person:7f1c'
    >>> check_ref("device:door-1a2b3c")
    'device:door-1a2b3c'
"""

from __future__ import annotations

import re
from enum import StrEnum

from ..errors import InvalidAuditEntry


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    STEP_UP = "step_up"
    UNLOCK_REQUESTED = "unlock_requested"
    COMMAND_SENT = "command_sent"
    COMMAND_ACKNOWLEDGED = "command_acknowledged"
    COMMAND_REJECTED = "command_rejected"
    COMMAND_TIMED_OUT = "command_timed_out"
    ROLE_CHANGED = "role_changed"
    KEY_CHANGED = "key_changed"
    BREAK_GLASS = "break_glass"
    SNAPSHOT_VIEWED = "snapshot_viewed"
    EXPORT = "export"
    ERASURE = "erasure"
    DEVICE_REGISTERED = "device_registered"
    DEVICE_REVOKED = "device_revoked"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"
    ACCOUNT_CREATED = "account_created"
    INVITATION_CREATED = "invitation_created"
    HOME_CREATED = "home_created"
    DEVICE_ASSIGNED = "device_assigned"
    VISIT_WINDOW_ADDED = "visit_window_added"
    VISIT_WINDOW_REMOVED = "visit_window_removed"
    CHECKED_IN = "checked_in"
    SNAPSHOTS_PURGED = "snapshots_purged"  # the retention job deleted expired snapshots


class RefKind(StrEnum):
    """What a reference can point at."""

    PERSON = "person"
    DEVICE = "device"
    HOME = "home"
    COMMAND = "command"
    SNAPSHOT = "snapshot"
    ALERT = "alert"
    EVENT = "event"
    SESSION = "session"
    SERVICE = "service"  # a hub process or job acting on its own
    OPERATOR = "operator"  # someone at the hub's command line
    VISIT = "visit"  # a visit window of a carer
    INVITATION = "invitation"


_REF_RE = re.compile(r"^([a-z_]{2,20}):([A-Za-z0-9._@:-]{1,78})$")
_KINDS = frozenset(k.value for k in RefKind)


def check_ref(ref: str) -> str:
    """Return ``ref`` if it is ``kind:id`` with a known kind, else raise ``InvalidAuditEntry``."""
    match = _REF_RE.fullmatch(ref) if isinstance(ref, str) else None
    if match is None or match.group(1) not in _KINDS:
        kinds = ", ".join(k.value for k in RefKind)
        raise InvalidAuditEntry(
            f"reference {ref!r} is not 'kind:id' (kinds: {kinds}; id: letters, digits, . _ @ : -)"
        )
    return ref


def ref(kind: RefKind, ident: str | int) -> str:
    return check_ref(f"{RefKind(kind).value}:{ident}")


def person_ref(person_id: str) -> str:
    return ref(RefKind.PERSON, person_id)


def device_ref(device_id: str) -> str:
    return ref(RefKind.DEVICE, device_id)


def command_ref(command_id: str) -> str:
    return ref(RefKind.COMMAND, command_id)


def service_ref(name: str) -> str:
    return ref(RefKind.SERVICE, name)


def split_ref(value: str) -> tuple[RefKind, str]:
    kind, _, ident = check_ref(value).partition(":")
    return RefKind(kind), ident
