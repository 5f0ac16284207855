"""Moves the lock, safely: release on a verified command, re-lock by itself.

Rules that never bend: after start the lock is engaged; any error leaves it
engaged; a strike re-locks after ``hold_s``; a deadbolt re-locks once the door
is closed again. With a position sensor, a state not reached within
``jam_timeout_s`` is reported as jammed.

    >>> svc = LockService(lock, door, indicator, report, hold_s=5)   # doctest: +SKIP
    >>> svc.unlock(command_id)       # -> LockOutcome(ok=True, state=RELEASED)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hardware.interfaces import DoorContact, Indicator, IndicatorPattern, LockActuator, LockPosition
from protocol.device import DoorState, LockState
from protocol.events import LockCause

log = logging.getLogger(__name__)

# (state, cause, command id) -> None; the agent turns it into a LockChanged event.
Report = Callable[[LockState, LockCause, str | None], None]


@dataclass(frozen=True, slots=True)
class LockOutcome:
    ok: bool
    state: LockState
    detail: str = ""
    # After a release: seconds until this service re-locks by itself (None: a deadbolt,
    # which waits for the door instead). Goes into the command's acknowledgement.
    relock_in_s: float | None = None


class LockService:
    def __init__(
        self,
        lock: LockActuator,
        door: DoorContact | None,
        indicator: Indicator | None,
        report: Report,
        *,
        hold_s: float = 5.0,
        jam_timeout_s: float = 2.0,
        kind: Literal["strike", "deadbolt"] = "strike",
    ) -> None:
        self.lock = lock
        self.door = door
        self.indicator = indicator
        self.report = report
        self.hold_s = hold_s
        self.jam_timeout_s = jam_timeout_s
        self.kind = kind
        self._mutex = threading.RLock()
        self._timer: threading.Timer | None = None
        self._state = LockState.UNKNOWN
        self._pending_command: str | None = None

    @property
    def state(self) -> LockState:
        return self._state

    def door_state(self) -> DoorState:
        if self.door is None:
            return DoorState.UNKNOWN
        return DoorState.OPEN if self.door.is_open else DoorState.CLOSED

    def boot(self) -> LockOutcome:
        """Engage at start, whatever the lock was doing before."""
        return self._engage(LockCause.BOOT, None)

    def unlock(self, command_id: str, hold_s: float | None = None) -> LockOutcome:
        with self._mutex:
            if self._state is LockState.JAMMED:
                return LockOutcome(False, self._state, "lock is jammed: needs a visit")
            self._cancel_timer()
            hold = hold_s or self.hold_s
            # A strike also gets the driver's own re-lock timer as a backstop, in case
            # this service's timer never runs; a deadbolt must wait for the door instead.
            backstop = hold + 1.0 if self.kind == "strike" else None
            try:
                self.lock.release(hold_s=backstop)
            except Exception as exc:  # any hardware error: make sure we stay locked
                log.exception("release failed")
                if not self._safe_engage():
                    # Neither way worked: the lock's state is unknown, never "engaged".
                    self._set(LockState.JAMMED, LockCause.FAULT, command_id)
                    self._show(IndicatorPattern.FAULT)
                return LockOutcome(False, self._state, f"relay error: {exc}")
            if self.lock.has_position_sensor and not self.lock.wait_until(
                LockPosition.RELEASED, self.jam_timeout_s
            ):
                self._safe_engage()
                self._set(LockState.JAMMED, LockCause.FAULT, command_id)
                self._show(IndicatorPattern.FAULT)
                return LockOutcome(False, LockState.JAMMED, "lock did not release in time")
            self._set(LockState.RELEASED, LockCause.COMMAND, command_id)
            self._show(IndicatorPattern.UNLOCKING)
            self._timer = threading.Timer(hold, self._hold_over)
            self._timer.daemon = True
            self._timer.start()
            relock_in = hold if self.kind == "strike" else None
            return LockOutcome(True, LockState.RELEASED, relock_in_s=relock_in)

    def door_closed(self) -> None:
        """A deadbolt waiting for the door re-locks now."""
        with self._mutex:
            if (
                self.kind == "deadbolt"
                and self._state is LockState.RELEASED
                and self._timer is None
            ):
                self._engage(LockCause.DOOR_CLOSED, None)

    def _hold_over(self) -> None:
        with self._mutex:
            self._timer = None
            if self._state is not LockState.RELEASED:
                return
            if self.kind == "deadbolt" and self.door_state() is DoorState.OPEN:
                # A bolt thrown into an open door jams it; wait for door_closed().
                return
            self._engage(LockCause.RELOCK_TIMER, None)

    def _engage(self, cause: LockCause, command_id: str | None) -> LockOutcome:
        with self._mutex:
            self._cancel_timer()
            try:
                self.lock.engage()
            except Exception as exc:
                log.exception("engage failed")
                self._set(LockState.JAMMED, LockCause.FAULT, command_id)
                self._show(IndicatorPattern.FAULT)
                return LockOutcome(False, LockState.JAMMED, f"relay error: {exc}")
            if self.lock.has_position_sensor and not self.lock.wait_until(
                LockPosition.ENGAGED, self.jam_timeout_s
            ):
                self._set(LockState.JAMMED, LockCause.FAULT, command_id)
                self._show(IndicatorPattern.FAULT)
                return LockOutcome(False, LockState.JAMMED, "lock did not engage in time")
            self._set(LockState.ENGAGED, cause, command_id)
            self._show(IndicatorPattern.IDLE)
            return LockOutcome(True, LockState.ENGAGED)

    def retry_engage(self) -> LockOutcome:
        """After a jam is cleared by hand: try again (also clears the JAMMED state)."""
        return self._engage(LockCause.MANUAL, None)

    def _safe_engage(self) -> bool:
        try:
            self.lock.engage()
        except Exception:
            log.exception("engage after failure also failed")
            return False
        return True

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _set(self, state: LockState, cause: LockCause, command_id: str | None) -> None:
        self._state = state
        try:
            self.report(state, cause, command_id)
        except Exception:  # reporting must never stop the lock from moving (or re-locking)
            log.exception("could not report lock %s (%s)", state.value, cause.value)

    def _show(self, pattern: IndicatorPattern) -> None:
        if self.indicator is not None:
            try:
                self.indicator.show(pattern)
            except Exception:
                log.exception("indicator failed")

    def close(self) -> None:
        with self._mutex:
            self._cancel_timer()
            self._safe_engage()
