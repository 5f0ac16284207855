"""The audit entries a command's later steps share: who asked, and "sent".

Both the sender (``hub.commands``) and the ack side (``hub.command_acks``) record "sent":
the sender on the broker's confirmation, the ack side when the door's answer came first.

    audit_sent(s, device_id, command_id, "unlock", person_id, now, kid)
    actor("service:cues")   # -> "service:cues"; a person's id -> their audit reference
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .audit import AuditAction, append, command_ref, device_ref, person_ref


def audit_sent(
    s: Session, device: str, command_id: str, action: str, person_id: str, at: datetime, kid: str
) -> None:
    append(
        s,
        AuditAction.COMMAND_SENT,
        actor=actor(person_id),
        at=at,
        subjects=[device_ref(device), command_ref(command_id)],
        details={"action": action, "kid": kid},
    )


def actor(requested_by: str) -> str:
    """The audit reference of who asked: a person's id, or a hub service's own reference."""
    return requested_by if requested_by.startswith("service:") else person_ref(requested_by)
