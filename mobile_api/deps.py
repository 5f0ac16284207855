"""Dependencies every route builds on: the hub, the settings, the session, permissions.

Secure by default: ``require_session`` is an app-wide dependency; a route opts out
only by being marked ``@public``.

    @router.get("/api/homes/{home}/doors")
    def doors(home: str, person: CurrentPerson, hub: HubDep): ...
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from hub.policy import NotAuthorised, Permission, require
from hub.service import Hub
from protocol.base import utcnow

from .security import UNSAFE_METHODS, SessionContext, check_csrf, load_session
from .settings import WebSettings

F = TypeVar("F", bound=Callable[..., Any])

# Sequence numbers live in signed 64-bit columns (SQLite INTEGER, PostgreSQL BIGINT):
# a larger number in a query is a 422, not an overflow inside the database driver.
MAX_SEQ = 2**63 - 1

# The trivial dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in
# a worker thread, and every unlock would pay those hops before its first statement.


def public(endpoint: F) -> F:
    """Mark a route as reachable without a session (login, invitations, health)."""
    endpoint.__doorstep_public__ = True  # type: ignore[attr-defined]
    return endpoint


async def get_hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


async def get_settings(request: Request) -> WebSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_now(request: Request) -> datetime:
    return request.app.state.clock()  # type: ignore[no-any-return]


HubDep = Annotated[Hub, Depends(get_hub)]
SettingsDep = Annotated[WebSettings, Depends(get_settings)]
Now = Annotated[datetime, Depends(get_now)]


def require_session(
    request: Request, hub: HubDep, settings: SettingsDep, now: Now
) -> SessionContext | None:
    """App-wide: a live session (and a CSRF token on unsafe methods) unless the route is public."""
    endpoint = request.scope.get("endpoint")
    if getattr(endpoint, "__doorstep_public__", False):
        return None
    ctx = load_session(hub.db, settings, request.cookies.get(settings.cookie_name), now)
    if ctx is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    if request.method in UNSAFE_METHODS:
        check_csrf(ctx, request.headers.get(settings.csrf_header), settings)
    return ctx


async def current_session(
    ctx: Annotated[SessionContext | None, Depends(require_session)],
) -> SessionContext:
    if ctx is None:  # a public route asked for a session: a programming error
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    return ctx


CurrentSession = Annotated[SessionContext, Depends(current_session)]


async def current_person(ctx: CurrentSession) -> str:
    return ctx.person_id


CurrentPerson = Annotated[str, Depends(current_person)]


def authorise(s: Session, person_id: str, home_id: str | None, permission: Permission) -> None:
    """``hub.policy.require`` as an HTTP 403."""
    try:
        require(s, person_id, home_id, permission)
    except NotAuthorised as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None


def utc_now() -> datetime:
    return utcnow()
