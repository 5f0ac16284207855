"""This deployment's VAPID key pair (RFC 8292): made once, kept in the hub's keys folder.

The private key signs each Web Push request's JWT; browsers subscribe with the public
key (``application_server_key``), so changing it orphans every subscription: back it up.

    keys = VapidKeys.load_or_create(settings.data_dir / "keys" / "vapid.key")
    keys.application_server_key      # base64url of the uncompressed P-256 point
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .channel import NotifyConfigError

VAPID_KEY_FILE = "vapid.key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def load_or_create(cls, path: Path) -> VapidKeys:
        """Read the PEM key at ``path``; make one (mode 0600) when there is none."""
        if path.exists():
            return cls.load(path)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not overwrite each other's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load(path)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> VapidKeys:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise NotifyConfigError(
                f"cannot read the VAPID key {path}: {exc}; restore it from backup "
                "(a new key would orphan every push subscription)"
            ) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise NotifyConfigError(f"{path} is not a P-256 private key (VAPID needs P-256)")
        return cls(key)

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @property
    def application_server_key(self) -> str:
        """What a browser passes to ``pushManager.subscribe`` (base64url, unpadded)."""
        return b64url(self.public_bytes)
