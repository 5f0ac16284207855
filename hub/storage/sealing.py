"""Secrets sealed at rest with the hub's key (AES-256-GCM): one mechanism for all of them.

A database copied without the key file cannot give up what is sealed here: TOTP
secrets (``totp_sealing``), partner webhooks' signing secrets (``hub.webhooks.secrets``).
Each use binds its own associated data -- what the secret is for and whose it is --
so a sealed value moved to another row, or to another purpose, does not open.

A sealed value is base64url (no padding) of nonce (12 B) + ciphertext + tag (16 B).
The key is 32 random bytes in one file (``DOORSTEP_HUB_TOTP_KEY``, default
``<data_dir>/keys/totp.key``: the name is historical, it seals every kind of secret).

    sealer = SecretSealer.load_or_create(path)         # mode 0600, made if absent
    stored = sealer.seal_bytes(b"raw", bound_to=b"webhook-secret:SUB_ID")
    sealer.open_bytes(stored, bound_to=b"webhook-secret:SUB_ID")   # -> b"raw"

A ``Database`` built with a sealer hands it to every session (``session.info``), so
storage code finds it with ``sealer_of(session)`` without being handed it.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from ..errors import SettingsError, StorageError

# The session.info key Database uses (named when only TOTP secrets were sealed).
SESSION_KEY = "doorstep_totp_sealer"
NONCE = 12
TAG = 16


class SealError(StorageError, ValueError):
    """A sealed secret that cannot be opened (wrong key, tampered, moved, or no key)."""


class SecretSealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SettingsError(f"a sealing key has 32 bytes, not {len(key)}: make a new one")
        self._aead = AESGCM(key)

    @classmethod
    def load(cls, path: Path) -> Self | None:
        """The key in ``path``, or None when there is no such file (secrets stay plain)."""
        return cls(path.read_bytes()) if path.exists() else None

    @classmethod
    def load_or_create(cls, path: Path) -> Self:
        """The key in ``path``; made (32 random bytes, readable by the owner only) if absent."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
        return cls(path.read_bytes())

    def seal_bytes(self, raw: bytes, *, bound_to: bytes) -> str:
        nonce = secrets.token_bytes(NONCE)
        sealed = nonce + self._aead.encrypt(nonce, raw, bound_to)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open_bytes(self, stored: str, *, bound_to: bytes) -> bytes:
        """The raw secret; ``SealError`` if this key (and binding) does not open it."""
        try:
            blob = base64.urlsafe_b64decode(stored + "=" * (-len(stored) % 4))
            return self._aead.decrypt(blob[:NONCE], blob[NONCE:], bound_to)
        except (InvalidTag, binascii.Error, ValueError):
            raise SealError("a sealed secret does not open with this hub's key") from None


def sealed_length(raw_length: int) -> int:
    """Characters of a sealed ``raw_length``-byte secret (for column sizes and checks)."""
    n = NONCE + raw_length + TAG
    return (n * 4 + 2) // 3


def sealer_of(session: Session) -> SecretSealer | None:
    sealer = session.info.get(SESSION_KEY)
    return sealer if isinstance(sealer, SecretSealer) else None
