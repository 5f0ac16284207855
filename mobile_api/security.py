"""Sessions, CSRF, login throttling, step-up: the web app's security mechanics.

The cookie holds only a random session id (``__Host-``, Secure, HttpOnly,
SameSite=Strict); the hub stores its hash. Each session carries a synchronizer
CSRF token which every state-changing request must echo in a header.

    ctx = load_session(hub.db, settings, token, now)      # None when absent/expired
    check_csrf(ctx, request.headers.get(settings.csrf_header), settings)
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import HTTPException, Response, status

from hub.storage.accounts import end_session, find_session, touch_session
from hub.storage.database import Database

from .settings import WebSettings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class SessionContext:
    token: str
    person_id: str
    csrf_token: str
    created_at: datetime
    step_up_at: datetime | None


def load_session(
    db: Database, settings: WebSettings, token: str | None, now: datetime
) -> SessionContext | None:
    """The live session behind ``token``; ends it when idle or too old.

    Most requests only read: the idle clock is moved on at most every
    ``touch_every`` (a durable write per request would serialise every page
    behind the ingest's writes for no gain in safety).
    """
    if not token:
        return None
    with db.read_session() as s:
        row = find_session(s, token)
    if row is None:
        return None
    idle = now - row.last_seen_at > timedelta(seconds=settings.idle_timeout_s)
    old = now - row.created_at > timedelta(seconds=settings.absolute_timeout_s)
    if idle or old:
        with db.session() as s:
            end_session(s, token)
        return None
    if now - row.last_seen_at >= touch_every(settings):
        with db.session() as s:
            touch_session(s, token, at=now)
    return SessionContext(token, row.person_id, row.csrf_token, row.created_at, row.step_up_at)


def touch_every(settings: WebSettings) -> timedelta:
    """How stale the recorded last use may get: a small part of the idle timeout."""
    return timedelta(seconds=min(30.0, settings.idle_timeout_s / 20))


def check_csrf(ctx: SessionContext, sent: str | None, settings: WebSettings) -> None:
    if not sent or not secrets.compare_digest(sent, ctx.csrf_token):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"missing or wrong CSRF token: send the token from /api/session in the "
            f"{settings.csrf_header} header",
        )


def stepped_up(ctx: SessionContext, settings: WebSettings, now: datetime) -> bool:
    window = timedelta(seconds=settings.step_up_window_s)
    return ctx.step_up_at is not None and now - ctx.step_up_at <= window


def set_session_cookie(response: Response, settings: WebSettings, token: str) -> None:
    response.set_cookie(
        settings.cookie_name,
        token,
        max_age=settings.absolute_timeout_s,
        path="/",  # __Host- requires Path=/, Secure and no Domain
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, settings: WebSettings) -> None:
    response.delete_cookie(
        settings.cookie_name,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )


class IpThrottle:
    """Failed logins per client address in a sliding window (one per app, in memory)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, ip: str, now: float) -> deque[float]:
        times = self._failures.setdefault(ip, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, ip: str) -> bool:
        with self._lock:
            return len(self._recent(ip, time.monotonic())) >= self.limit

    def failed(self, ip: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(ip, now).append(now)
