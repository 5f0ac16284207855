"""TOTP secrets at rest: sealed with the hub's key, plain ones from before the key still
work and get sealed, a wrong or missing key is a clear error, never a silent "wrong code"."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher

from hub.storage import Database, create_person
from hub.storage.accounts import (
    Passwords,
    confirm_totp,
    create_account,
    get_account,
    start_totp,
    verify_totp,
)
from hub.storage.totp_sealing import TotpSealer, TotpSealError, seal_plain_secrets

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FAST = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


@pytest.fixture
def keyed(database: Database) -> Iterator[Database]:
    db = Database(database.url, totp_sealer=TotpSealer(secrets.token_bytes(32)))
    yield db
    db.dispose()


def _account(db: Database, name: str) -> str:
    with db.session() as s:
        person = create_person(s, display_name=name, at=T0).id
        create_account(s, Passwords(), person_id=person, username=name, password="x" * 12, at=T0)
    return person


def _stored(db: Database, person: str) -> str:
    with db.read_session() as s:
        account = get_account(s, person)
        assert account is not None
        return str(account.totp_secret)


def test_a_keyed_database_stores_only_the_sealed_secret(keyed: Database) -> None:
    person = _account(keyed, "sealed")
    with keyed.session() as s:
        secret = start_totp(s, person)
    stored = _stored(keyed, person)
    assert len(stored) == 64
    assert secret not in stored
    with keyed.session() as s:
        assert confirm_totp(s, person, pyotp.TOTP(secret).at(T0), at=T0)


def test_plain_secrets_from_before_the_key_work_and_get_sealed(
    database: Database, keyed: Database
) -> None:
    person = _account(database, "old")
    with database.session() as s:
        secret = start_totp(s, person)
    assert _stored(database, person) == secret  # no key yet: as before
    with keyed.session() as s:
        assert verify_totp(s, person, pyotp.TOTP(secret).at(T0), at=T0)
    assert len(_stored(keyed, person)) == 64
    later = T0 + timedelta(seconds=60)
    with keyed.session() as s:
        assert verify_totp(s, person, pyotp.TOTP(secret).at(later), at=later)
    with database.session() as s, pytest.raises(TotpSealError, match="no key"):
        verify_totp(s, person, pyotp.TOTP(secret).at(later), at=later)


def test_a_wrong_key_or_a_moved_secret_does_not_open(database: Database, keyed: Database) -> None:
    anna, bob = _account(keyed, "anna2"), _account(keyed, "bob2")
    with keyed.session() as s:
        secret = start_totp(s, anna)
    other = Database(database.url, totp_sealer=TotpSealer(secrets.token_bytes(32)))
    try:
        with other.session() as s, pytest.raises(TotpSealError, match="restore the key"):
            verify_totp(s, anna, pyotp.TOTP(secret).at(T0), at=T0)
    finally:
        other.dispose()
    with keyed.session() as s:  # anna's sealed secret pasted into bob's account
        moved = get_account(s, bob)
        assert moved is not None
        moved.totp_secret = _stored(keyed, anna)
    with keyed.session() as s, pytest.raises(TotpSealError):
        verify_totp(s, bob, pyotp.TOTP(secret).at(T0), at=T0)


def test_sealing_what_was_plain(database: Database, keyed: Database) -> None:
    people = [_account(database, f"p{n}") for n in range(3)]
    with database.session() as s:
        for person in people:
            start_totp(s, person)
    with keyed.session() as s:
        assert seal_plain_secrets(s) == 3
    with keyed.session() as s:
        assert seal_plain_secrets(s) == 0
    assert all(len(_stored(keyed, p)) == 64 for p in people)


def test_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "totp.key"
    assert TotpSealer.load(path) is None
    first = TotpSealer.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = TotpSealer.load_or_create(path)
    sealed = first.seal("p1", pyotp.random_base32())
    assert again.open("p1", sealed) == first.open("p1", sealed)
