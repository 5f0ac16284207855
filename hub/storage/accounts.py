"""Web accounts: passwords (Argon2id), TOTP, lock-out, invitations and sessions.

No default accounts: ``create_first_admin`` makes the first one and refuses once
any account exists; everyone else arrives through a one-time invitation.

    pw = Passwords()
    admin = create_first_admin(s, pw, username="root", password="long pass", at=now)
    check = check_password(s, pw, "root", "long pass", at=now)   # -> LoginCheck
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..errors import AlreadyExists, InvalidValue, StorageError
from .homes import add_membership, create_person
from .models_accounts import Account, Invitation, WebSession
from .models_registry import Grant, Role
from .totp_sealing import is_sealed, read_secret, store_secret

MIN_PASSWORD = 12


class AccountError(StorageError):
    """Root of the account store's refusals."""


class AccountsExist(AccountError, RuntimeError):
    """``create_first_admin`` was called although accounts exist already."""


class InvitationInvalid(AccountError, ValueError):
    """An invitation token that is unknown, used or expired."""


class LoginResult(StrEnum):
    OK = "ok"
    BAD = "bad"  # unknown user or wrong password: the caller must not tell which
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class LoginCheck:
    result: LoginResult
    account: Account | None = None


class Passwords:
    """Argon2id hashing plus a dummy hash, so unknown users cost as much as known ones."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise InvalidValue(
                f"a password of {len(password)} characters is too short: use {MIN_PASSWORD} "
                "or more (a few unrelated words work well)"
            )
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def count_accounts(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def find_account(session: Session, username: str) -> Account | None:
    return session.scalars(select(Account).where(Account.username == username)).one_or_none()


def get_account(session: Session, person_id: str) -> Account | None:
    return session.get(Account, person_id)


def create_account(
    session: Session,
    passwords: Passwords,
    *,
    person_id: str,
    username: str,
    password: str,
    at: datetime,
    email: str | None = None,
) -> Account:
    if find_account(session, username) is not None:
        raise AlreadyExists(f"username {username!r} is taken: choose another")
    account = Account(
        person_id=person_id,
        username=username,
        email=email,
        password_hash=passwords.hash(password),
        totp_confirmed=False,
        failed_logins=0,
        created_at=at,
    )
    session.add(account)
    session.flush()
    return account


def create_first_admin(
    session: Session,
    passwords: Passwords,
    *,
    username: str,
    password: str,
    at: datetime,
    display_name: str = "Administrator",
    home_id: str | None = None,
) -> Account:
    """The very first account; refused once any account exists (no default accounts)."""
    if count_accounts(session):
        raise AccountsExist(
            "accounts exist already: the first admin is created only once; invite people instead"
        )
    person = create_person(session, display_name=display_name, at=at)
    if home_id is not None:
        add_membership(session, person_id=person.id, home_id=home_id, role=Role.ADMIN, at=at)
    return create_account(
        session, passwords, person_id=person.id, username=username, password=password, at=at
    )


def check_password(
    session: Session,
    passwords: Passwords,
    username: str,
    password: str,
    *,
    at: datetime,
    max_failures: int = 5,
    lock_for: timedelta = timedelta(minutes=15),
) -> LoginCheck:
    """Verify a password, counting failures and locking the account after ``max_failures``."""
    account = find_account(session, username)
    if account is None:
        passwords.verify(None, password)  # same cost as a real check: no timing oracle
        return LoginCheck(LoginResult.BAD)
    if account.locked_until is not None and account.locked_until > at:
        passwords.verify(None, password)
        return LoginCheck(LoginResult.LOCKED)
    if not passwords.verify(account.password_hash, password):
        account.failed_logins += 1
        if account.failed_logins >= max_failures:
            account.locked_until = at + lock_for
            account.failed_logins = 0
        session.flush()
        return LoginCheck(LoginResult.BAD)
    if passwords.hasher.check_needs_rehash(account.password_hash):
        account.password_hash = passwords.hasher.hash(password)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = at
    session.flush()
    return LoginCheck(LoginResult.OK, account)


# -- TOTP ------------------------------------------------------------------------


def start_totp(session: Session, person_id: str) -> str:
    """A fresh, unconfirmed secret (replacing an unconfirmed one); returns it."""
    account = _account(session, person_id)
    if account.totp_confirmed:
        raise AccountError("a second factor is set up already: remove it before enrolling again")
    secret = pyotp.random_base32()
    account.totp_secret = store_secret(session, person_id, secret)  # sealed when keyed
    session.flush()
    return secret


def verify_totp(session: Session, person_id: str, code: str, *, at: datetime) -> bool:
    """True for a current code never used before (one step of clock drift allowed)."""
    account = _account(session, person_id)
    code = code.strip()
    # compare_digest refuses non-ASCII str (TypeError): anything but ASCII digits is wrong.
    if not account.totp_secret or not (code.isascii() and code.isdigit()):
        return False
    secret = read_secret(session, person_id, account.totp_secret)
    totp = pyotp.TOTP(secret)
    now_step = int(at.timestamp()) // totp.interval
    for step in (now_step, now_step - 1, now_step + 1):
        if (account.totp_last_step or -1) >= step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            account.totp_last_step = step
            if not is_sealed(account.totp_secret):  # from before the key: seal it now
                account.totp_secret = store_secret(session, person_id, secret)
            session.flush()
            return True
    return False


def confirm_totp(session: Session, person_id: str, code: str, *, at: datetime) -> bool:
    if not verify_totp(session, person_id, code, at=at):
        return False
    _account(session, person_id).totp_confirmed = True
    session.flush()
    return True


def _account(session: Session, person_id: str) -> Account:
    account = session.get(Account, person_id)
    if account is None:
        raise AccountError(f"person {person_id!r} has no account: invite them first")
    return account


# -- invitations -------------------------------------------------------------------


def create_invitation(
    session: Session,
    *,
    home_id: str,
    role: Role,
    invited_by: str,
    at: datetime,
    valid_for: timedelta = timedelta(days=7),
    grants: Iterable[Grant] = (),
) -> tuple[Invitation, str]:
    """Returns the row and the token to send (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        id=str(uuid.uuid4()),
        token_hash=digest(token),
        home_id=home_id,
        role=Role(role),
        grants=[Grant(g).value for g in grants],
        invited_by=invited_by,
        created_at=at,
        expires_at=at + valid_for,
    )
    session.add(invitation)
    session.flush()
    return invitation, token


def accept_invitation(
    session: Session,
    passwords: Passwords,
    token: str,
    *,
    username: str,
    password: str,
    display_name: str,
    at: datetime,
) -> Account:
    stmt = select(Invitation).where(Invitation.token_hash == digest(token))
    invitation = session.scalars(stmt).one_or_none()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= at:
        raise InvitationInvalid("this invitation is unknown, used or expired: ask for a new one")
    person = create_person(session, display_name=display_name, at=at)
    account = create_account(
        session, passwords, person_id=person.id, username=username, password=password, at=at
    )
    add_membership(
        session,
        person_id=person.id,
        home_id=invitation.home_id,
        role=invitation.role,
        at=at,
        grants=tuple(Grant(g) for g in invitation.grants),
    )
    invitation.used_at = at
    invitation.used_by = person.id
    session.flush()
    return account


# -- sessions ----------------------------------------------------------------------


def create_session(session: Session, person_id: str, *, at: datetime) -> tuple[WebSession, str]:
    """A new browser session; returns the row and the id for the cookie (stored hashed)."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id_hash=digest(token),
        person_id=person_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=at,
        last_seen_at=at,
    )
    session.add(row)
    session.flush()
    return row, token


def find_session(session: Session, token: str) -> WebSession | None:
    return session.get(WebSession, digest(token))


def touch_session(session: Session, token: str, *, at: datetime) -> None:
    row = find_session(session, token)
    if row is not None:
        row.last_seen_at = at
        session.flush()


def record_step_up(session: Session, token: str, *, at: datetime) -> None:
    row = find_session(session, token)
    if row is not None:
        row.step_up_at = at
        session.flush()


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == digest(token)))


def end_sessions_of(session: Session, person_id: str) -> None:
    session.execute(delete(WebSession).where(WebSession.person_id == person_id))
