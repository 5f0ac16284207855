"""Each person's own notification choices and the rule that applies them.

The rule, in order, for one message to one person:
1. Safety alerts (``messages.SAFETY_KINDS``, or a notice marked ``safety``) always go:
   neither the kinds switches nor quiet hours hold them back.
2. A kind the person switched off is held back ("preferences").
3. During quiet hours (local time of the person's time zone, else the home's) other
   messages are held back ("quiet_hours") - except a ring, which still goes unless the
   person also turned "rings during quiet hours" off: someone at the door at night is
   news the family asked for. Held-back messages are dropped, not sent later.
4. Channels the person switched off are not used; for a safety alert, if that leaves no
   way to reach them, every channel they can be reached on is used.

    prefs = load(s, person_id)
    reason = hold_back(prefs, kind="ring", safety=False, at=now, home_tz="Europe/London")
"""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from ..storage.models_notify import PreferencesRow
from .messages import MESSAGE_KINDS, SAFETY_KINDS

CHANNELS = ("webpush", "govuk_sms", "govuk_email")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Preferences(BaseModel):
    """GET/PUT /api/me/notifications, and what the worker applies."""

    model_config = ConfigDict(extra="forbid")
    muted_kinds: list[str] = Field(default_factory=list, description="kinds turned off")
    off_channels: list[str] = Field(default_factory=list, description="channels turned off")
    quiet_start: str | None = Field(None, description='local "HH:MM"; null: no quiet hours')
    quiet_end: str | None = Field(None, description='local "HH:MM" (may be the next morning)')
    timezone: str | None = Field(None, max_length=64, description="null: the home's time zone")
    rings_in_quiet_hours: bool = True

    @field_validator("muted_kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        for kind in v:
            if kind not in MESSAGE_KINDS:
                raise ValueError(f"unknown kind {kind!r}: one of {', '.join(MESSAGE_KINDS)}")
            if kind in SAFETY_KINDS:
                raise ValueError(f"{kind} is a safety alert and cannot be turned off")
        return sorted(set(v))

    @field_validator("off_channels")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        for channel in v:
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
        return sorted(set(v))

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is not None and not _HHMM.match(v):
            raise ValueError('give a 24-hour time such as "22:30"')
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r} (e.g. Europe/London)") from None
        return v

    @model_validator(mode="after")
    def _both_or_neither(self) -> Preferences:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both a start and an end")
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise ValueError("quiet hours must not start and end at the same time")
        return self


def load(session: Session, person_id: str) -> Preferences:
    row = session.get(PreferencesRow, person_id)
    if row is None:
        return Preferences()
    return Preferences(
        muted_kinds=list(row.muted_kinds),
        off_channels=list(row.off_channels),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        timezone=row.timezone,
        rings_in_quiet_hours=row.rings_in_quiet_hours,
    )


def save(session: Session, person_id: str, prefs: Preferences, at: datetime) -> None:
    row = session.get(PreferencesRow, person_id)
    if row is None:
        row = PreferencesRow(person_id=person_id)
        session.add(row)
    row.muted_kinds, row.off_channels = list(prefs.muted_kinds), list(prefs.off_channels)
    row.quiet_start, row.quiet_end = prefs.quiet_start, prefs.quiet_end
    row.timezone, row.rings_in_quiet_hours = prefs.timezone, prefs.rings_in_quiet_hours
    row.updated_at = at
    session.flush()


def in_quiet_hours(prefs: Preferences, at: datetime, home_tz: str | None) -> bool:
    if prefs.quiet_start is None or prefs.quiet_end is None:
        return False
    local = at.astimezone(ZoneInfo(prefs.timezone or home_tz or "UTC")).time()
    start, end = time.fromisoformat(prefs.quiet_start), time.fromisoformat(prefs.quiet_end)
    if start < end:  # e.g. 13:00-15:00
        return start <= local < end
    return local >= start or local < end  # over midnight, e.g. 22:00-07:00


def hold_back(
    prefs: Preferences, *, kind: str, safety: bool, at: datetime, home_tz: str | None
) -> str | None:
    """Why this message is not sent to this person (None: send it)."""
    if safety:
        return None
    if kind in prefs.muted_kinds:
        return "preferences"
    if in_quiet_hours(prefs, at, home_tz) and not (kind == "ring" and prefs.rings_in_quiet_hours):
        return "quiet_hours"
    return None
