"""A door's signed answer to a command: checked, recorded, audited, announced.

Called by ingest inside its transaction (through ``CommandService.on_ack``). What must
wait for the commit (waking whoever waits on the command, the checkpoint after an
unlock) goes into ``ctx.after_commit``.

    on_ack(s, device_id, envelope, at, ctx, settings=settings, signer=signer,
           finish=service._finish, after_unlock=service._checkpoint_after_unlock)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from protocol.commands import AckOutcome
from protocol.signing import SignedEnvelope, key_id, open_ack

from .audit import AuditAction, append, command_ref, device_ref
from .bus import Notice
from .command_audit import audit_sent
from .errors import InvalidTransition, UnknownCommand
from .handlers import HandlerContext
from .runtime_settings import HubRuntimeSettings
from .storage import count_rejected, get_command, raise_alert, record_ack
from .storage.commands import mark_sent_if_requested
from .storage.devices import get_device
from .storage.models_commands import AlertKind

log = logging.getLogger(__name__)


def on_ack(
    s: Session,
    device_id: str,
    envelope: SignedEnvelope,
    at: datetime,
    ctx: HandlerContext,
    *,
    settings: HubRuntimeSettings,
    signer: Ed25519PrivateKey,
    finish: Callable[[str], None],
    after_unlock: Callable[[str], None],
) -> None:
    """Record the door's answer; ``finish(command_id)`` and ``after_unlock(device_id)``
    run after the commit."""
    device = get_device(s, device_id)
    key = serialization.load_pem_public_key(device.public_key_pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    ack = open_ack(envelope, key, device_id)  # raises SignatureInvalid: counted by ingest
    signed = {"payload": envelope.payload, "sig": envelope.sig, "kid": envelope.kid}
    executed = ack.outcome is AckOutcome.EXECUTED
    action = AuditAction.COMMAND_ACKNOWLEDGED if executed else AuditAction.COMMAND_REJECTED
    subjects = [device_ref(device_id)]
    unmatched: str | None = None
    if ack.command_id is not None:
        subjects.append(command_ref(ack.command_id))
        try:
            with s.begin_nested():
                _sent_by_answer(s, ack.command_id, at, signer)
                record_ack(
                    s,
                    ack.command_id,
                    outcome=ack.outcome,
                    at=at,
                    payload=envelope.payload,
                    signature=envelope.sig,
                    key_id=envelope.kid,
                    reject_reason=ack.reason.value if ack.reason else None,
                    detail=ack.detail,
                )
        except (InvalidTransition, UnknownCommand) as exc:
            # The door refused a replay or a forgery (the id is already answered, or
            # was never issued by this hub). Its signed answer is still evidence that
            # someone tried: audit it, but leave the real command's state alone.
            unmatched = str(exc)
    append(
        s,
        action,
        actor=device_ref(device_id),
        at=at,
        subjects=subjects,
        details={
            "outcome": ack.outcome.value,
            "reason": ack.reason.value if ack.reason else None,
            "lock": ack.lock.value,
            "signed_ack": signed,
            **({"unmatched": unmatched} if unmatched is not None else {}),
        },
    )
    if unmatched is not None:
        log.warning(
            "door %s answered a command the hub has no open record of: %s", device_id, unmatched
        )
        return
    if not executed:
        recent = count_rejected(s, device_id, since=at - timedelta(minutes=10))
        if recent >= settings.rejected_commands_alert:
            raise_alert(
                s,
                AlertKind.REPEATED_REJECTED_COMMANDS,
                at=at,
                device_id=device_id,
                details={"rejections_10min": recent},
            )
    status = "acknowledged" if executed else ack.outcome.value
    ctx.notices.append(
        Notice(
            "command",
            device_id,
            {
                "command_id": ack.command_id,
                "status": status,
                "lock": ack.lock.value,
                "reason": ack.reason.value if ack.reason else None,
                "detail": ack.detail,
                # The door's own word on when it re-locks (None from older doors).
                "relock_in_s": ack.relock_in_s,
            },
            device.home_id,
            at,
        )
    )
    if ack.command_id is not None:
        command_id = ack.command_id
        ctx.after_commit.append(lambda: finish(command_id))
    if executed and ack.action == "unlock":
        # A checkpoint after every unlock, and a copy to the door that opened. Signed in
        # a transaction of its own once this one is committed and its notices are out,
        # so the family's screen does not wait for it; it then also covers the ack's
        # audit entry. Should it fail, the periodic checkpoint job covers it.
        ctx.after_commit.append(lambda: after_unlock(device_id))


def _sent_by_answer(s: Session, command_id: str, at: datetime, signer: Ed25519PrivateKey) -> None:
    """The door answered before the broker's confirmation was recorded: its answer
    proves the command went out, so "sent" is recorded first and the audit log reads
    requested, sent, answered (the sender then records nothing more)."""
    if not mark_sent_if_requested(s, command_id, at):
        return
    command = get_command(s, command_id)
    audit_sent(s, command.device_id, command_id, command.action, command.requested_by, at,
               key_id(signer.public_key()))  # fmt: skip
