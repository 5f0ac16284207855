"""TOTP secrets encrypted at rest (AES-256-GCM), so a copy of the database alone cannot
mint second-factor codes. The sealing itself is ``hub.storage.sealing`` (shared with
webhook signing secrets); this module is what is TOTP-specific.

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models_accounts import Account
from .sealing import SESSION_KEY, SealError, SecretSealer, sealed_length

SEALED_LENGTH = sealed_length(20)  # 64


class TotpSealError(SealError):
    """A sealed TOTP secret that cannot be opened (wrong key, tampered, or no key)."""


class TotpSealer(SecretSealer):
    """The hub's sealing key, with the TOTP way of sealing (the person id bound to it).

    Kept as the type ``Database`` takes: every other kind of secret uses the same key
    through ``SecretSealer``'s methods.
    """

    def seal(self, person_id: str, secret_b32: str) -> str:
        raw = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
        return self.seal_bytes(raw, bound_to=person_id.encode())

    def open(self, person_id: str, stored: str) -> str:
        try:
            raw = self.open_bytes(stored, bound_to=person_id.encode())
        except SealError:
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
