"""The account store on a real database: first admin, invitations, lock-out, TOTP, rehash."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher

from hub.storage import create_home, memberships_of
from hub.storage.accounts import (
    AccountsExist,
    InvitationInvalid,
    LoginResult,
    Passwords,
    accept_invitation,
    check_password,
    confirm_totp,
    create_first_admin,
    create_invitation,
    create_session,
    end_session,
    find_account,
    find_session,
    start_totp,
    verify_totp,
)
from hub.storage.models_registry import Role
from tests.fixtures.database import T0
from tests.web.conftest import PASSWORD, fast_passwords


def test_first_admin_only_once_and_no_default_accounts(database) -> None:
    pw = fast_passwords()
    with database.session() as s:
        assert find_account(s, "admin") is None
        create_first_admin(s, pw, username="root", password=PASSWORD, at=T0)
    with database.session() as s, pytest.raises(AccountsExist):
        create_first_admin(s, pw, username="root2", password=PASSWORD, at=T0)


def test_invitation_is_one_time_expires_and_is_stored_hashed(database) -> None:
    pw = fast_passwords()
    with database.session() as s:
        home = create_home(s, name="H", timezone="Europe/London", at=T0).id
        invitation, token = create_invitation(
            s, home_id=home, role=Role.FAMILY_MEMBER, invited_by="person:x", at=T0
        )
        assert token not in invitation.token_hash
        _, late = create_invitation(
            s,
            home_id=home,
            role=Role.CARER,
            invited_by="person:x",
            at=T0,
            valid_for=timedelta(hours=1),
        )
    with database.session() as s:
        account = accept_invitation(
            s, pw, token, username="bea", password=PASSWORD, display_name="Bea", at=T0
        )
        assert [m.role for m in memberships_of(s, account.person_id)] == [Role.FAMILY_MEMBER]
    for t, at in ((token, T0), (late, T0 + timedelta(hours=2)), ("nonsense-token", T0)):
        with database.session() as s, pytest.raises(InvitationInvalid):
            accept_invitation(
                s, pw, t, username=f"u{at.hour}{t[:3]}", password=PASSWORD, display_name="X", at=at
            )


def test_lockout_rehash_totp_replay_and_sessions(database) -> None:
    weak = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    with database.session() as s:
        admin = create_first_admin(s, weak, username="root", password=PASSWORD, at=T0)
        old_hash = admin.password_hash
    stronger = Passwords(PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1))
    with database.session() as s:
        check = check_password(s, stronger, "root", PASSWORD, at=T0)
        assert check.result is LoginResult.OK
        assert check.account.password_hash != old_hash  # rehashed with the new parameters
        for _ in range(3):
            assert (
                check_password(s, stronger, "root", "wrong", at=T0, max_failures=3).result
                is LoginResult.BAD
            )
        assert check_password(s, stronger, "root", PASSWORD, at=T0).result is LoginResult.LOCKED
        later = T0 + timedelta(minutes=16)
        assert check_password(s, stronger, "root", PASSWORD, at=later).result is LoginResult.OK
        secret = start_totp(s, admin.person_id)
        code = pyotp.TOTP(secret).at(T0)
        assert confirm_totp(s, admin.person_id, code, at=T0)
        assert not verify_totp(s, admin.person_id, code, at=T0)  # never twice
        row, token = create_session(s, admin.person_id, at=T0)
        assert row.id_hash != token
        assert find_session(s, token) is not None
        end_session(s, token)
        assert find_session(s, token) is None
