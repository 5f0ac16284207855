"""The small interface every notification channel implements, and what it exchanges.

A channel turns one ``Message`` (already addressed to one target of one person) into
one attempt and answers with a ``Receipt``. The delivery worker owns retries, backoff
and records; a channel never sleeps or retries by itself.

    class Log:
        name, kinds = "log", frozenset({"ring"})
        def targets(self, session, person_id): return [person_id]
        def send(self, message): return Receipt(Outcome.SENT)
        def forget(self, session, target): pass
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session

from ..errors import HubError


class NotifyError(HubError):
    """Root of the notification layer's errors."""


class NotifyConfigError(NotifyError, ValueError):
    """A channel's configuration (keys, subject, API key) is missing or unusable."""


class Outcome(StrEnum):
    SENT = "sent"  # the channel's service accepted the message
    RETRY = "retry"  # a temporary failure (5xx, 429, timeout): try again later
    FAILED = "failed"  # a permanent failure for this message (4xx): do not retry
    GONE = "gone"  # the target no longer exists (404/410): forget it


@dataclass(frozen=True, slots=True)
class Message:
    """One notification for one person at one channel target."""

    key: str  # de-duplication key: "ring:<event id>" (one per person and target)
    kind: str  # ring, ring_unanswered, device_offline, ...
    person_id: str
    target: str  # channel-specific: a push subscription id, a phone number, an email
    title: str
    body: str
    url: str  # where tapping the notification leads (the ring screen)
    tag: str  # a later message with the same tag replaces this one on the phone
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    outcome: Outcome
    detail: str = ""
    retry_after_s: float | None = None  # the service asked us to wait (Retry-After)
    ref: str | None = None  # the service's id of the message, to ask later how it went


class Channel(Protocol):
    name: str
    kinds: frozenset[str]  # the message kinds this channel carries (e.g. {"ring"})

    def targets(self, session: Session, person_id: str) -> list[str]:
        """Where this person can be reached on this channel (may be empty)."""
        ...

    def send(self, message: Message) -> Receipt:
        """One attempt; must not raise for service failures (return a Receipt)."""
        ...

    def forget(self, session: Session, target: str) -> None:
        """The service said the target is gone: stop using it."""
        ...


class ReportingChannel(Channel, Protocol):
    """A channel whose service can say later whether a sent message was delivered."""

    def report(self, ref: str) -> tuple[str, str] | None:
        """("delivered" | "failed", detail) once the service knows; None: not yet."""
        ...
