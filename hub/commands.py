"""The command service: authorise, sign, send and track commands to doors.

Every step lands in the audit log: requested, sent, acknowledged (with the
device's signed answer), rejected, timed out. A command without an answer in
time is ``unknown``, never "failed", and is never retried automatically.

    ticket = commands.request(device_id, "unlock", person_id=pid, reason="carer")
    commands.wait(ticket.id, timeout=10)   # -> "acknowledged", "rejected", "unknown", ...

What a request must pass lives in ``hub.command_requests``, the door's answer is handled
in ``hub.command_acks``; this service sends, times out and tracks, and is the one entry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from protocol.base import utcnow
from protocol.codec import encode_signed
from protocol.commands import command_version_for
from protocol.mqtt import MqttLink
from protocol.signing import SignedEnvelope, sign
from protocol.topics import TopicKind

from . import command_acks
from .audit import AuditAction, append, command_ref, device_ref
from .bus import Notice, NoticeBus
from .checkpoint_job import checkpoint_now
from .command_audit import actor, audit_sent
from .command_requests import (
    ACTIONS,
    PICTURE_ACTIONS,
    CommandError,
    DeviceUnavailable,
    PrivacyOn,
    RateLimited,
    UnknownAction,
    check_action,
    record_request,
)
from .handlers import HandlerContext
from .runtime_settings import HubRuntimeSettings
from .storage import get_command, mark_failed, mark_sent, mark_unknown
from .storage.commands import open_commands_older_than
from .storage.database import Database
from .storage.devices import get_device

__all__ = [
    "ACTIONS",
    "PICTURE_ACTIONS",
    "CommandError",
    "CommandService",
    "CommandTicket",
    "DeviceUnavailable",
    "PrivacyOn",
    "RateLimited",
    "UnknownAction",
    "command_version_for",
]

log = logging.getLogger(__name__)


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
        check_action(action)
        now = self.clock()
        with self.db.session() as s:
            command, home = record_request(
                s,
                device_id,
                action,
                person_id=person_id,
                reason=reason,
                within=within,
                authorise=authorise,
                settings=self.settings,
                now=now,
                params=params,
            )
        done = threading.Event()
        with self._lock:
            self._done[command.id] = done
        status = self._send(command, person_id, home)
        return CommandTicket(command.id, device_id, action, command.counter, status)

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
                    audit_sent(s, command.device, command.id, command.action, person_id, now,
                               envelope.kid)  # fmt: skip
            else:
                mark_failed(s, command.id, now, "the broker did not take the command")
                append(
                    s,
                    AuditAction.COMMAND_REJECTED,
                    actor=actor(person_id),
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
                actor=actor(person_id),
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
        """The door's signed answer (see ``hub.command_acks``)."""
        command_acks.on_ack(
            s,
            device_id,
            envelope,
            at,
            ctx,
            settings=self.settings,
            signer=self.signer,
            finish=self._finish,
            after_unlock=self._checkpoint_after_unlock,
        )

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
