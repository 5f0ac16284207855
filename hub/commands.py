"""The command service: authorise, sign, send and track commands to doors.

Every step lands in the audit log: requested, sent, acknowledged (with the
device's signed answer), rejected, timed out. A command without an answer in
time is ``unknown``, never "failed", and is never retried automatically.

    ticket = commands.request(device_id, "unlock", person_id=pid, reason="carer")
    commands.wait(ticket.id, timeout=10)   # -> "acknowledged", "rejected", "unknown", ...
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol.base import utcnow
from protocol.codec import encode_signed
from protocol.commands import (
    AckOutcome,
    IndoorCue,
    SetPrivacy,
    StartLiveView,
    StopLiveView,
    TakeSnapshot,
    UnlockDoor,
    command_version_for,
)
from protocol.ids import new_message_id
from protocol.mqtt import MqttLink
from protocol.signing import SignedEnvelope, key_id, open_ack, sign
from protocol.topics import TopicKind

from .audit import AuditAction, append, command_ref, device_ref, person_ref
from .bus import Notice, NoticeBus
from .checkpoint_job import checkpoint_now
from .errors import HubError, InvalidTransition, UnknownCommand
from .handlers import HandlerContext
from .policy import Permission, by_grant, require
from .runtime_settings import HubRuntimeSettings
from .storage import (
    allocate_command_counter,
    count_rejected,
    create_command,
    get_command,
    mark_failed,
    mark_sent,
    mark_unknown,
    raise_alert,
    record_ack,
)
from .storage.commands import mark_sent_if_requested, open_commands_older_than
from .storage.database import Database
from .storage.devices import get_device
from .storage.models_commands import AlertKind, Command
from .storage.models_registry import DeviceHealth

log = logging.getLogger(__name__)

ACTIONS: dict[str, tuple[type, Permission]] = {
    "unlock": (UnlockDoor, Permission.UNLOCK),
    "snapshot": (TakeSnapshot, Permission.LIVE_VIEW),
    "live_view": (StartLiveView, Permission.LIVE_VIEW),
    "stop_live_view": (StopLiveView, Permission.LIVE_VIEW),
    "set_privacy": (SetPrivacy, Permission.SET_PRIVACY),
    # Indoor cue (issue 9): sent by the hub itself (hub.cues) on a carer's check-in.
    "cue": (IndoorCue, Permission.CHECK_IN),
}


class CommandError(HubError):
    """Root of the command service's refusals."""


class DeviceUnavailable(CommandError, ConnectionError):
    """The door is offline or has not told the hub its clock yet."""


class RateLimited(CommandError, RuntimeError):
    """Too many commands to this door in a short time."""


class PrivacyOn(DeviceUnavailable):
    """The door reports its privacy switch on: no picture is asked for (the door would refuse)."""


PICTURE_ACTIONS = frozenset({"snapshot", "live_view"})


def _audit_sent(
    s: Session, device: str, command_id: str, action: str, person_id: str, at: datetime, kid: str
) -> None:
    append(
        s,
        AuditAction.COMMAND_SENT,
        actor=_actor(person_id),
        at=at,
        subjects=[device_ref(device), command_ref(command_id)],
        details={"action": action, "kid": kid},
    )


def _actor(requested_by: str) -> str:
    """The audit reference of who asked: a person's id, or a hub service's own reference."""
    return requested_by if requested_by.startswith("service:") else person_ref(requested_by)


class UnknownAction(CommandError, ValueError):
    """Not an action the protocol defines."""


@dataclass(frozen=True, slots=True)
class CommandTicket:
    id: str
    device_id: str
    action: str
    counter: int
    status: str


class CommandService:
    def __init__(
        self,
        db: Database,
        link: MqttLink,
        bus: NoticeBus,
        signer: Ed25519PrivateKey,
        settings: HubRuntimeSettings,
        *,
        audit_key: Ed25519PrivateKey | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.link = link
        self.bus = bus
        self.signer = signer
        self.audit_key = audit_key or signer
        self.settings = settings
        self.clock = clock
        self._done: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}

    # -- requests ---------------------------------------------------------------
    def request(
        self,
        device_id: str,
        action: str,
        *,
        person_id: str,
        reason: str = "",
        within: Callable[[Session], None] | None = None,
        authorise: Callable[[Session, Any], dict[str, Any]] | None = None,
        **params: Any,
    ) -> CommandTicket:
        """Authorise, record, sign and send; returns as soon as the command is on its way.

        ``within(session)`` runs once the person is authorised, in the same transaction
        as the command's creation (e.g. the web app's step-up): both land, or neither.
        ``authorise(session, device)`` replaces the role check for a time-boxed right
        (break-glass, a ring escalated to telecare): it raises ``NotAuthorised`` or returns
        details that go into the audit entry.
        """
        if action not in ACTIONS:
            raise UnknownAction(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
        model, permission = ACTIONS[action]
        now = self.clock()
        lifetime = self.settings.command_lifetime_s
        with self.db.session() as s:
            device = get_device(s, device_id)
            extra: dict[str, Any] = {}
            if authorise is None:
                require(s, person_id, device.home_id, permission)
            else:
                extra = authorise(s, device)
            if within is not None:
                within(s)
            self._check_available(device)
            if action in PICTURE_ACTIONS and device.privacy:
                raise PrivacyOn(
                    f"the door {device.name!r} has its privacy switch on: no snapshot or live "
                    "view until the family turns privacy off"
                )
            if action == "unlock":
                self._check_rate(s, device_id, now)
            counter = allocate_command_counter(
                s, device_id, at_least=device.device_command_counter or 0
            )
            age_ms = int((now - device.telemetry_received_at).total_seconds() * 1000)
            command = model(
                # v2 only to a door that reported it speaks v2 (telemetry); else v1.
                v=command_version_for(device.protocol_version),
                device=device_id,
                id=new_message_id(),
                counter=counter,
                issued_at=now,
                expires_at=now + timedelta(seconds=lifetime),
                boot_id=device.boot_id,
                not_after_monotonic_ms=device.monotonic_ms + max(age_ms, 0) + lifetime * 1000,
                requested_by=person_id,
                **params,
            )
            create_command(
                s,
                command_id=command.id,
                device_id=device_id,
                action=action,
                counter=counter,
                requested_by=person_id,
                reason=reason,
                at=now,
                expires_at=command.expires_at,
            )
            details: dict[str, Any] = {"action": action, "reason": reason, "counter": counter}
            if authorise is None and by_grant(s, person_id, device.home_id, permission):  # type: ignore[arg-type]
                details["by_grant"] = permission.value
            details |= extra
            if action == "unlock":
                append(
                    s,
                    AuditAction.UNLOCK_REQUESTED,
                    actor=person_ref(person_id),
                    at=now,
                    subjects=[device_ref(device_id), command_ref(command.id)],
                    details=details,
                )
            home = device.home_id
        done = threading.Event()
        with self._lock:
            self._done[command.id] = done
        status = self._send(command, person_id, home)
        return CommandTicket(command.id, device_id, action, counter, status)

    def _check_available(self, device: Any) -> None:
        if device.health not in (DeviceHealth.ONLINE, DeviceHealth.DEGRADED):
            raise DeviceUnavailable(
                f"the door {device.name!r} is {device.health.value}: nothing was sent; "
                "check its power and network"
            )
        if (
            device.boot_id is None
            or device.monotonic_ms is None
            or device.telemetry_received_at is None
        ):
            raise DeviceUnavailable(
                f"the door {device.name!r} has not reported its clock yet; try again shortly"
            )

    def _check_rate(self, s: Session, device_id: str, now: datetime) -> None:
        # A count in the database: loading the recent commands themselves cost a row
        # object each, on the path of every unlock.
        stmt = select(func.count()).where(
            Command.device_id == device_id,
            Command.action == "unlock",
            Command.created_at > now - timedelta(minutes=1),
        )
        recent = int(s.execute(stmt).scalar_one())
        if recent >= self.settings.unlocks_per_minute:
            raise RateLimited(f"{recent} unlocks of this door in the last minute: wait a minute")

    def _send(self, command: Any, person_id: str, home: str | None) -> str:
        """Publish and record the outcome; "sent" or "failed"."""
        envelope = sign(command, self.signer)
        wire = encode_signed(
            TopicKind.COMMAND, command.device, envelope, expiry_s=self.settings.command_lifetime_s
        )
        sent = False
        try:
            info = self.link.publish(wire)
            info.wait_for_publish(2)
            sent = info.is_published()
        except (RuntimeError, ValueError) as exc:
            log.warning("publishing command %s failed: %s", command.id, exc)
        now = self.clock()
        answered = False
        with self.db.session() as s:
            if sent:
                # False when the door's answer came first: on_ack recorded "sent" then.
                answered = not mark_sent(s, command.id, now)
                if not answered:
                    _audit_sent(s, command.device, command.id, command.action, person_id, now,
                                envelope.kid)  # fmt: skip
            else:
                mark_failed(s, command.id, now, "the broker did not take the command")
                append(
                    s,
                    AuditAction.COMMAND_REJECTED,
                    actor=_actor(person_id),
                    at=now,
                    subjects=[device_ref(command.device), command_ref(command.id)],
                    details={"outcome": "not_sent", "detail": "broker unreachable"},
                )
        if not answered:  # an answered command's page already shows the door's answer
            self._post(command.device, command.id, "sent" if sent else "failed", home)
        if sent and not answered:
            timer = threading.Timer(
                self.settings.command_timeout_s,
                self._timed_out,
                args=(command.id, command.device, person_id),
            )
            timer.daemon = True
            timer.start()
            with self._lock:
                self._timers[command.id] = timer
        else:
            self._finish(command.id)
        return "sent" if sent else "failed"

    def _timed_out(self, command_id: str, device_id: str, person_id: str) -> None:
        now = self.clock()
        with self.db.session() as s:
            if not mark_unknown(s, command_id, now):
                return  # answered in time
            append(
                s,
                AuditAction.COMMAND_TIMED_OUT,
                actor=_actor(person_id),
                at=now,
                subjects=[device_ref(device_id), command_ref(command_id)],
                details={"outcome": "unknown", "timeout_s": self.settings.command_timeout_s},
            )
        self._post(device_id, command_id, "unknown")
        self._finish(command_id)

    def sweep_stale(self) -> int:
        """Close commands nobody is waiting for any more; returns how many.

        The answer timer lives in the memory of the process that sent the command, so a
        hub that crashed (or was restarted) between sending and the answer would leave
        the command open for ever. Anything still open well past its timeout is marked
        unknown here, audited like a timeout, and shown as "state unknown".
        """
        now = self.clock()
        grace = timedelta(seconds=2 * self.settings.command_timeout_s + 5)
        with self.db.session() as s:
            stale = [
                (c.id, c.device_id, c.requested_by)
                for c in open_commands_older_than(s, now - grace)
            ]
        for command_id, device_id, person_id in stale:
            self._timed_out(command_id, device_id, person_id)
        if stale:
            log.warning("%d commands had no answer and no waiting hub: marked unknown", len(stale))
        return len(stale)

    # -- acknowledgements (called by ingest inside its transaction) -------------
    def on_ack(
        self,
        s: Session,
        device_id: str,
        envelope: SignedEnvelope,
        at: datetime,
        ctx: HandlerContext,
    ) -> None:
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
                    self._sent_by_answer(s, ack.command_id, at)
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
            if recent >= self.settings.rejected_commands_alert:
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
            ctx.after_commit.append(lambda: self._finish(command_id))
        if executed and ack.action == "unlock":
            # A checkpoint after every unlock, and a copy to the door that opened. Signed in
            # a transaction of its own once this one is committed and its notices are out,
            # so the family's screen does not wait for it; it then also covers the ack's
            # audit entry. Should it fail, the periodic checkpoint job covers it.
            ctx.after_commit.append(lambda: self._checkpoint_after_unlock(device_id))

    def _sent_by_answer(self, s: Session, command_id: str, at: datetime) -> None:
        """The door answered before the broker's confirmation was recorded: its answer
        proves the command went out, so "sent" is recorded first and the audit log reads
        requested, sent, answered (the sender then records nothing more)."""
        if not mark_sent_if_requested(s, command_id, at):
            return
        command = get_command(s, command_id)
        _audit_sent(s, command.device_id, command_id, command.action, command.requested_by, at,
                    key_id(self.signer.public_key()))  # fmt: skip

    def _checkpoint_after_unlock(self, device_id: str) -> None:
        checkpoint_now(self.db, self.link, self.audit_key, [device_id], at=self.clock())

    # -- tracking ---------------------------------------------------------------
    def status(self, command_id: str) -> str:
        with self.db.read_session() as s:
            return get_command(s, command_id).status.value

    def wait(self, command_id: str, timeout: float) -> str:
        """Block until answered or timed out (or ``timeout``); return the status."""
        with self._lock:
            done = self._done.get(command_id)
        if done is not None:
            done.wait(timeout)
        return self.status(command_id)

    def _finish(self, command_id: str) -> None:
        with self._lock:
            done = self._done.pop(command_id, None)
            timer = self._timers.pop(command_id, None)
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if done is not None:
            done.set()

    def _post(self, device_id: str, command_id: str, status: str, home: str | None = None) -> None:
        if home is None:
            with self.db.read_session() as s:
                home = get_device(s, device_id).home_id
        self.bus.post(
            Notice("command", device_id, {"command_id": command_id, "status": status}, home)
        )

    def stop(self) -> None:
        with self._lock:
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.cancel()
