"""TOTP secrets encrypted at rest (AES-256-GCM), so a copy of the database alone cannot
mint second-factor codes.

A sealed secret is base64url(nonce 12 B + ciphertext of the secret's 20 raw bytes +
tag 16 B): exactly 64 characters, so it fits the existing ``accounts.totp_secret``
column with no schema change. The person id is bound as associated data (a sealed
secret copied to another account does not open). Plain base32 secrets written before
a key existed (32 characters) are still read, and re-sealed on their next use.

A ``Database`` built with a sealer hands it to every session (``session.info``):

    sealer = TotpSealer.load_or_create(settings.totp_key)    # 32 random bytes, mode 0600
    # (Database.from_settings loads the key when its file exists; `doorstep hub seal-totp`
    # makes it and seals secrets written before it.)
    db = Database(url, totp_sealer=sealer)
    stored = sealer.seal(person_id, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    sealer.open(person_id, stored)                           # -> the base32 secret
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import SettingsError, StorageError
from .models_accounts import Account

SESSION_KEY = "doorstep_totp_sealer"
SEALED_LENGTH = 64
_NONCE = 12


class TotpSealError(StorageError, ValueError):
    """A sealed TOTP secret that cannot be opened (wrong key, tampered, or no key)."""


class TotpSealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SettingsError(f"a TOTP key has 32 bytes, not {len(key)}: make a new one")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, path: Path) -> TotpSealer | None:
        """The key in ``path``, or None when there is no such file (secrets stay plain)."""
        return cls(path.read_bytes()) if path.exists() else None

    @classmethod
    def load_or_create(cls, path: Path) -> TotpSealer:
        """The key in ``path``; made (32 random bytes, readable by the owner only) if absent."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def seal(self, person_id: str, secret_b32: str) -> str:
        raw = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
        nonce = secrets.token_bytes(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, raw, person_id.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, person_id: str, stored: str) -> str:
        blob = base64.urlsafe_b64decode(stored + "=" * (-len(stored) % 4))
        try:
            raw = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], person_id.encode())
        except InvalidTag:
            raise TotpSealError(
                "a TOTP secret does not open with this hub's key: restore the key file "
                "(DOORSTEP_HUB_TOTP_KEY) or let the person enrol again"
            ) from None
        return base64.b32encode(raw).decode().rstrip("=")


def is_sealed(stored: str) -> bool:
    # pyotp's plain secrets are 32 base32 characters; sealed ones are 64 base64url ones.
    return len(stored) == SEALED_LENGTH


def sealer_of(session: Session) -> TotpSealer | None:
    sealer = session.info.get(SESSION_KEY)
    return sealer if isinstance(sealer, TotpSealer) else None


def store_secret(session: Session, person_id: str, secret_b32: str) -> str:
    """What to keep in the column: sealed when the database has a key, else as given."""
    sealer = sealer_of(session)
    return sealer.seal(person_id, secret_b32) if sealer else secret_b32


def seal_plain_secrets(session: Session) -> int:
    """Seal every secret stored before the key existed; returns how many."""
    sealer = sealer_of(session)
    if sealer is None:
        raise TotpSealError("no TOTP key: build the Database with totp_sealer= first")
    count = 0
    for account in session.scalars(select(Account).where(Account.totp_secret.is_not(None))):
        if account.totp_secret and not is_sealed(account.totp_secret):
            account.totp_secret = sealer.seal(account.person_id, account.totp_secret)
            count += 1
    session.flush()
    return count


def read_secret(session: Session, person_id: str, stored: str) -> str:
    """The base32 secret behind a column value, sealed or (from before the key) plain."""
    if not is_sealed(stored):
        return stored
    sealer = sealer_of(session)
    if sealer is None:
        raise TotpSealError(
            "TOTP secrets are encrypted but this hub has no key: set DOORSTEP_HUB_TOTP_KEY "
            "to the key file (default <data_dir>/keys/totp.key)"
        )
    return sealer.open(person_id, stored)
