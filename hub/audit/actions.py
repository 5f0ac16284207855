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
    CONSENT_RECORDED = "consent_recorded"  # issue 9: privacy (a home's consent record)
    RETENTION_CHANGED = "retention_changed"  # issue 9: privacy (a home's retention days)
    # issue 9: check-in policy of a home (hub.check_in_policy)
    CHECK_IN_POLICY_CHANGED = "check_in_policy_changed"  # family approval switched on/off
    AUTO_UNLOCK_ENABLED = "auto_unlock_enabled"  # the owner let a carer's check-in unlock
    AUTO_UNLOCK_DISABLED = "auto_unlock_disabled"
    AUTO_UNLOCKED = "auto_unlocked"  # a check-in unlocked the door by itself (no person asked)
    CHECK_IN_APPROVAL_REQUESTED = "check_in_approval_requested"
    CHECK_IN_APPROVED = "check_in_approved"  # the family let the carer in (with step-up)
    # issue 9: escalation and break-glass
    ESCALATION_POLICY_CHANGED = "escalation_policy_changed"
    RING_ESCALATED = "ring_escalated"  # a step of an unanswered ring, or "nobody answered"
    RING_ACKNOWLEDGED = "ring_acknowledged"  # "I'm dealing with it"
    BREAK_GLASS_REVIEWED = "break_glass_reviewed"
    # Home Assistant bridge (issue 10): opt-in changes, refused commands, shared pictures.
    HOME_ASSISTANT_CHANGED = "home_assistant_changed"
    HOME_ASSISTANT_REFUSED = "home_assistant_refused"
    HOME_ASSISTANT_SNAPSHOT_SHARED = "home_assistant_snapshot_shared"
    # webhooks to partner agencies (issue 10)
    WEBHOOK_ADDED = "webhook_added"
    WEBHOOK_REMOVED = "webhook_removed"
    WEBHOOK_RETRIED = "webhook_retried"  # a dead letter sent again
    # notifications (issue 12): a person's own choices, and seeing a notification
    NOTIFY_PREFERENCES_CHANGED = "notify_preferences_changed"
    NOTIFICATION_SEEN = "notification_seen"
    # issue 9: a carer's photo, shown to one home's family with the carer's consent
    CARER_PHOTO_ADDED = "carer_photo_added"  # with the consent that allows it
    CARER_PHOTO_REMOVED = "carer_photo_removed"  # consent withdrawn: the photo is deleted
    CARER_PHOTO_VIEWED = "carer_photo_viewed"  # only when seen through a grant (telecare)
    AUDIT_INDEX_REBUILT = "audit_index_rebuilt"  # 'doorstep audit reindex' changed audit_refs


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
    ESCALATION = "escalation"  # an unanswered ring's escalation (issue 9)
    BREAK_GLASS = "break_glass"  # an officer's time-boxed emergency access (issue 9)
    WEBHOOK = "webhook"  # a partner's webhook subscription (issue 10)
    CONSENT = "consent"  # a home's consent record (issue 9: privacy)


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
