"""Lock requests from Home Assistant: refused unless the hub's own authorisation passes.

Home Assistant publishes ``{"action": "UNLOCK", "code": "123456"}`` on the door's
``lock/set`` topic. The request becomes an unlock only when the door is opted in, a
family member is linked to it, the code is that member's current authenticator code
(a step-up, never reusable) and the member holds UNLOCK in the door's home; then it goes
through ``CommandService.request`` like any unlock (signed, rate-limited, audited).
Everything else is refused and audited; nothing ever goes to the door's own topics.

    outcome = LockRequests(db, commands, settings).handle("door-1a2b3c", payload)
    outcome.accepted, outcome.refusal          # (False, Refusal.WRONG_CODE)
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from protocol.base import utcnow

from ..audit import AuditAction, append, device_ref, person_ref, service_ref
from ..commands import CommandService, DeviceUnavailable, RateLimited
from ..errors import HubError, NotFound
from ..policy import NotAuthorised
from ..storage.accounts import get_account, verify_totp
from ..storage.database import Database
from ..storage.devices import find_device
from .settings import HomeAssistantSettings
from .store import find_link

ACTOR = service_ref("home-assistant")
VIA = "home_assistant"
_CODE = re.compile(r"^\d{6}$")


class Refusal(StrEnum):
    MALFORMED = "malformed"
    NOT_OPTED_IN = "not_opted_in"
    LOCK_NOT_SUPPORTED = "lock_not_supported"  # the door re-locks by itself
    NO_MEMBER_LINKED = "no_member_linked"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NO_CODE = "no_code"
    WRONG_CODE = "wrong_code"
    NOT_AUTHORISED = "not_authorised"
    DOOR_UNAVAILABLE = "door_unavailable"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"


class LockRequest(BaseModel):
    """What the lock entity's command_template renders (see discovery.COMMAND_TEMPLATE)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    action: str = Field(max_length=16, description="LOCK, UNLOCK or OPEN")
    code: str = Field(default="None", max_length=32, description="'None' without a code")


class WrongCode(HubError, PermissionError):
    """The code is not the linked member's current authenticator code."""


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    command_id: str | None = None
    refusal: Refusal | None = None


class LockRequests:
    def __init__(
        self,
        db: Database,
        commands: CommandService,
        settings: HomeAssistantSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.commands = commands
        self.settings = settings
        self.clock = clock
        self._refused: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def handle(self, device_id: str, payload: bytes) -> Outcome | None:
        """Decide one request; None when the door is not registered (dropped, not audited)."""
        with self.db.read_session() as s:
            if find_device(s, device_id) is None:
                return None
            link = find_link(s, device_id)
            person = link.person_id if link is not None else None
        try:
            request = LockRequest.model_validate_json(payload)
        except ValidationError:
            return self._refuse(device_id, person, Refusal.MALFORMED, "?")
        action = request.action
        if link is None:
            return self._refuse(device_id, person, Refusal.NOT_OPTED_IN, action)
        if action != "UNLOCK":
            return self._refuse(device_id, person, Refusal.LOCK_NOT_SUPPORTED, action)
        if person is None:
            return self._refuse(device_id, person, Refusal.NO_MEMBER_LINKED, action)
        if self._too_many(device_id):
            return self._refuse(device_id, person, Refusal.TOO_MANY_ATTEMPTS, action)
        if not _CODE.fullmatch(request.code):
            return self._refuse(device_id, person, Refusal.NO_CODE, action)
        return self._unlock(device_id, person, request.code)

    def _unlock(self, device_id: str, person: str, code: str) -> Outcome:
        now = self.clock()

        def step_up(s: Session) -> None:
            # Inside the command's transaction: a refused door leaves the code unused.
            account = get_account(s, person)
            if account is None or not account.totp_confirmed:
                raise WrongCode("the linked member has no second factor set up")
            if not verify_totp(s, person, code, at=now):
                raise WrongCode("not the linked member's current code")
            append(s, AuditAction.STEP_UP, actor=person_ref(person), at=now, details={"via": VIA})

        try:
            ticket = self.commands.request(
                device_id, "unlock", person_id=person, reason=VIA, within=step_up
            )
        except WrongCode:
            return self._refuse(device_id, person, Refusal.WRONG_CODE, "UNLOCK")
        except NotAuthorised:
            return self._refuse(device_id, person, Refusal.NOT_AUTHORISED, "UNLOCK")
        except DeviceUnavailable:
            return self._refuse(device_id, person, Refusal.DOOR_UNAVAILABLE, "UNLOCK")
        except RateLimited:
            return self._refuse(device_id, person, Refusal.RATE_LIMITED, "UNLOCK")
        except (HubError, NotFound) as exc:
            return self._refuse(device_id, person, Refusal.FAILED, "UNLOCK", str(exc))
        return Outcome(True, ticket.id)

    def _too_many(self, device_id: str) -> bool:
        since = self.clock() - timedelta(seconds=self.settings.refusal_window_s)
        with self._lock:
            times = self._refused.setdefault(device_id, deque())
            while times and times[0] < since:
                times.popleft()
            return len(times) >= self.settings.max_refusals

    def _refuse(
        self, device_id: str, person: str | None, why: Refusal, action: str, detail: str = ""
    ) -> Outcome:
        now = self.clock()
        with self._lock:
            self._refused.setdefault(device_id, deque()).append(now)
        subjects = [device_ref(device_id)] + ([person_ref(person)] if person else [])
        details: dict[str, Any] = {"via": VIA, "action": action[:16], "refusal": why.value}
        if detail:
            details["detail"] = detail[:200]
        with self.db.session() as s:
            append(
                s,
                AuditAction.HOME_ASSISTANT_REFUSED,
                actor=ACTOR,
                at=now,
                subjects=subjects,
                details=details,
            )
        return Outcome(False, refusal=why)
