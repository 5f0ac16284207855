"""Logging in and out, second factor (TOTP), step-up and invitations.

POST /api/login {"username": "anna", "password": "...", "totp": "123456"}
POST /api/step-up {"totp": "123456"}      # shortly before an unlock
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.audit import AuditAction, append, person_ref
from hub.errors import AlreadyExists, InvalidValue
from hub.storage.accounts import (
    AccountError,
    InvitationInvalid,
    LoginResult,
    accept_invitation,
    check_password,
    confirm_totp,
    create_session,
    end_session,
    get_account,
    record_step_up,
    start_totp,
    verify_totp,
)

from ..deps import CurrentSession, HubDep, Now, SettingsDep, public
from ..security import SessionContext, clear_session_cookie, set_session_cookie

router = APIRouter(prefix="/api", tags=["auth"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Login(Strict):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(None, max_length=10)


class Code(Strict):
    totp: str = Field(min_length=6, max_length=10)


class Accept(Strict):
    token: str = Field(min_length=10, max_length=200)
    username: str = Field(min_length=3, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(min_length=1, max_length=200)


class SessionInfo(Strict):
    person_id: str
    csrf_token: str
    totp_enrolled: bool


def _refused() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username, password or code")


@router.post("/login", response_model=SessionInfo)
@public
def login(
    body: Login, request: Request, response: Response, hub: HubDep, settings: SettingsDep, now: Now
) -> SessionInfo:
    ip = request.client.host if request.client else "unknown"
    throttle = request.app.state.ip_throttle
    if throttle.blocked(ip):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "too many failed logins: wait")
    with hub.db.session() as s:
        check = check_password(
            s,
            request.app.state.passwords,
            body.username,
            body.password,
            at=now,
            max_failures=settings.max_failures_per_account,
            lock_for=timedelta(seconds=settings.lockout_s),
        )
        account = check.account
        ok = check.result is LoginResult.OK and account is not None
        if ok and account is not None and account.totp_confirmed:
            ok = bool(body.totp) and verify_totp(s, account.person_id, body.totp or "", at=now)
        if not ok:
            who = person_ref(account.person_id) if account else "service:web"
            append(
                s,
                AuditAction.LOGIN_FAILED,
                actor=who,
                at=now,
                details={"result": check.result.value},
            )
    if not ok or account is None:
        throttle.failed(ip)
        if check.result is LoginResult.LOCKED:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "account locked after repeated failures: try again later",
            )
        raise _refused()
    with hub.db.session() as s:
        old = request.cookies.get(settings.cookie_name)
        if old:
            end_session(s, old)  # a fresh id on every login: no session fixation
        row, token = create_session(s, account.person_id, at=now)
        append(s, AuditAction.LOGIN, actor=person_ref(account.person_id), at=now)
        info = SessionInfo(
            person_id=account.person_id,
            csrf_token=row.csrf_token,
            totp_enrolled=account.totp_confirmed,
        )
    set_session_cookie(response, settings, token)
    return info


@router.get("/session", response_model=SessionInfo)
def session_info(ctx: CurrentSession, hub: HubDep) -> SessionInfo:
    with hub.db.read_session() as s:
        account = get_account(s, ctx.person_id)
        enrolled = bool(account and account.totp_confirmed)
    return SessionInfo(person_id=ctx.person_id, csrf_token=ctx.csrf_token, totp_enrolled=enrolled)


@router.post("/logout", status_code=204)
def logout(ctx: CurrentSession, response: Response, hub: HubDep, settings: SettingsDep) -> None:
    with hub.db.session() as s:
        end_session(s, ctx.token)
    clear_session_cookie(response, settings)


@router.post("/step-up")
def step_up(body: Code, ctx: CurrentSession, hub: HubDep, now: Now) -> dict[str, str]:
    with hub.db.session() as s:
        step_up_with(s, ctx, body.totp, now)
    return {"stepped_up_at": now.isoformat()}


def step_up_with(s: Session, ctx: SessionContext, code: str, now: datetime) -> None:
    """Check a fresh second-factor code and record the step-up on the session (audited)."""
    account = get_account(s, ctx.person_id)
    if account is None or not account.totp_confirmed:
        raise HTTPException(status.HTTP_409_CONFLICT, "set up a second factor first")
    if not verify_totp(s, ctx.person_id, code, at=now):
        raise _refused()
    record_step_up(s, ctx.token, at=now)
    append(s, AuditAction.STEP_UP, actor=person_ref(ctx.person_id), at=now)


@router.post("/totp/enroll")
def totp_enroll(ctx: CurrentSession, hub: HubDep) -> dict[str, str]:
    import pyotp

    with hub.db.session() as s:
        try:
            secret = start_totp(s, ctx.person_id)
        except AccountError as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        account = get_account(s, ctx.person_id)
        name = account.username if account else ctx.person_id
    uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="Doorstep")
    return {"secret": secret, "uri": uri}


@router.post("/totp/confirm")
def totp_confirm(body: Code, ctx: CurrentSession, hub: HubDep, now: Now) -> dict[str, bool]:
    with hub.db.session() as s:
        if not confirm_totp(s, ctx.person_id, body.totp, at=now):
            raise _refused()
    return {"totp_enrolled": True}


@router.post("/invitations/accept", status_code=201)
@public
def invitation_accept(body: Accept, request: Request, hub: HubDep, now: Now) -> dict[str, str]:
    try:
        with hub.db.session() as s:
            account = accept_invitation(
                s,
                request.app.state.passwords,
                body.token,
                username=body.username,
                password=body.password,
                display_name=body.display_name,
                at=now,
            )
            person_id = account.person_id
    except InvitationInvalid as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except (AlreadyExists, InvalidValue) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None
    return {"person_id": person_id}
