"""Commands: per-device counters and each command's life up to the device's signed answer.

The counter is allocated with one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``:
atomic on PostgreSQL with several hub processes (the row is locked by the update)
and on SQLite (writers are serialised). Status changes are conditional updates, so
a late or repeated acknowledgement can never move a command backwards.

    n = allocate_command_counter(session, "door-1a2b3c")
    create_command(session, command_id=cid, device_id="door-1a2b3c", action="unlock",
                   counter=n, requested_by="person:42", reason="carer", at=now)
    mark_unknown(session, cid, at=later)     # timed out: "unknown", never retried
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from protocol.commands import AckOutcome

from ..errors import InvalidTransition, UnknownCommand
from ._dialect import upsert_insert
from .models_commands import Command, CommandCounter, CommandStatus

S = CommandStatus
_OPEN = (S.REQUESTED, S.SENT)
# A signed answer is the truth even after we gave up waiting ("unknown").
_ANSWERABLE = (S.REQUESTED, S.SENT, S.UNKNOWN)
_FROM_OUTCOME = {
    AckOutcome.EXECUTED: S.ACKNOWLEDGED,
    AckOutcome.REJECTED: S.REJECTED,
    AckOutcome.FAILED: S.FAILED,
}


def allocate_command_counter(session: Session, device_id: str, *, at_least: int = 0) -> int:
    """The next counter for ``device_id``, unique and larger than any before and ``at_least``.

    Pass the counter the device last reported (telemetry) as ``at_least`` so a hub
    restored from an old backup still issues counters the device will accept.
    """
    floor = max(at_least, 0) + 1
    bumped = case((CommandCounter.value + 1 > floor, CommandCounter.value + 1), else_=floor)
    stmt = (
        upsert_insert(session, CommandCounter)
        .values(device_id=device_id, value=floor)
        .on_conflict_do_update(index_elements=["device_id"], set_={"value": bumped})
        .returning(CommandCounter.value)
    )
    return int(session.execute(stmt).scalar_one())


def create_command(
    session: Session,
    *,
    command_id: str,
    device_id: str,
    action: str,
    counter: int,
    requested_by: str,
    reason: str,
    at: datetime,
    expires_at: datetime | None = None,
) -> Command:
    command = Command(
        id=command_id,
        device_id=device_id,
        action=action,
        counter=counter,
        requested_by=requested_by,
        reason=reason,
        status=S.REQUESTED,
        created_at=at,
        expires_at=expires_at,
    )
    session.add(command)
    session.flush()
    return command


def get_command(session: Session, command_id: str) -> Command:
    command = session.get(Command, command_id, populate_existing=True)
    if command is None:
        raise UnknownCommand(f"command {command_id!r} was never issued by this hub")
    return command


def mark_sent(session: Session, command_id: str, at: datetime) -> bool:
    return _move(session, command_id, (S.REQUESTED,), S.SENT, sent_at=at)


def mark_sent_if_requested(session: Session, command_id: str, at: datetime) -> bool:
    """``mark_sent`` in one statement, without asking whether the command exists (the
    caller knows): on the path of every acknowledgement."""
    result = session.execute(
        update(Command)
        .where(Command.id == command_id, Command.status == S.REQUESTED)
        .values(status=S.SENT, sent_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(session: Session, command_id: str, at: datetime, detail: str) -> bool:
    """The hub could not send it (e.g. broker down): nothing reached the door."""
    return _move(session, command_id, (S.REQUESTED,), S.FAILED, acked_at=at, detail=detail)


def open_commands_older_than(session: Session, before: datetime, limit: int = 500) -> list[Command]:
    """Commands still waiting for an answer that were created before ``before``."""
    stmt = (
        select(Command)
        .where(Command.status.in_(_OPEN), Command.created_at < before)
        .order_by(Command.created_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def mark_unknown(session: Session, command_id: str, at: datetime) -> bool:
    """No answer in time: the outcome is unknown. Never retried automatically."""
    return _move(session, command_id, _OPEN, S.UNKNOWN, detail=f"no acknowledgement by {at}")


def record_ack(
    session: Session,
    command_id: str,
    *,
    outcome: AckOutcome,
    at: datetime,
    payload: str,
    signature: str,
    key_id: str,
    reject_reason: str | None = None,
    detail: str = "",
) -> Command:
    """Store the device's signed answer; a repeat of the same answer changes nothing."""
    status = _FROM_OUTCOME[AckOutcome(outcome)]
    # One statement on the way of every unlock: the row comes back from the UPDATE itself.
    stmt = (
        update(Command)
        .where(Command.id == command_id, Command.status.in_(_ANSWERABLE))
        .values(
            status=status,
            acked_at=at,
            ack_payload=payload,
            ack_signature=signature,
            ack_key_id=key_id,
            reject_reason=reject_reason,
            detail=detail,
        )
        .returning(Command)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    moved = session.scalars(stmt).one_or_none()
    if moved is not None:
        return moved
    command = get_command(session, command_id)  # raises UnknownCommand if never issued
    if command.ack_signature != signature:
        raise InvalidTransition(
            f"command {command_id} is {command.status.value} already; a second, different "
            "acknowledgement was not stored (check the device's logs)"
        )
    return command


def open_commands(session: Session, *, created_before: datetime) -> list[Command]:
    """Commands still waiting for an answer that were created before ``created_before``."""
    stmt = select(Command).where(Command.status.in_(_OPEN), Command.created_at < created_before)
    return list(session.scalars(stmt.order_by(Command.created_at)))


def commands_of(session: Session, device_id: str, *, limit: int = 100) -> list[Command]:
    stmt = select(Command).where(Command.device_id == device_id)
    return list(session.scalars(stmt.order_by(Command.created_at.desc()).limit(limit)))


def count_rejected(session: Session, device_id: str, *, since: datetime) -> int:
    """Rejections of this device's commands since ``since`` (for repeated-rejection alerts)."""
    stmt = select(func.count()).where(
        Command.device_id == device_id,
        Command.status == S.REJECTED,
        Command.acked_at >= since,
    )
    return int(session.execute(stmt).scalar_one())


def _move(
    session: Session,
    command_id: str,
    allowed: tuple[CommandStatus, ...],
    to: CommandStatus,
    **values: object,
) -> bool:
    result = session.execute(
        update(Command)
        .where(Command.id == command_id, Command.status.in_(allowed))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    get_command(session, command_id)  # raises UnknownCommand if it never existed
    return False
