"""Canonical Ed25519 signing for commands and acknowledgements.

The signed bytes are carried verbatim (``payload``), so the verifier never has
to re-serialise anything: it checks the signature over exactly what it got and
only then parses it.

    >>> key = Ed25519PrivateKey.generate()
    >>> env = sign(UnlockDoor(...), key)                     # doctest: +SKIP
    >>> cmd = open_command(env, key.public_key(), "door-1")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import Field, ValidationError

from .base import ProtocolModel, versions_of
from .commands import COMMAND_ADAPTER, COMMAND_VERSIONS, AnyCommand, CommandAck
from .errors import KeyFileError, MessageInvalid, SignatureInvalid, TopicMismatch
from .validation import check_version, describe_validation_error

if TYPE_CHECKING:  # cryptography is imported only where its keys are made or read
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

MAX_SIGNED_PAYLOAD = 4096


class PublicKey(Protocol):
    """An Ed25519 public key: cryptography's, or ``protocol.device_keys``' (PyNaCl)."""

    def public_bytes_raw(self) -> bytes: ...

    def verify(self, signature: bytes, data: bytes) -> None: ...


class PrivateKey(Protocol):
    """An Ed25519 private key: cryptography's, or ``protocol.device_keys``' (PyNaCl)."""

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> PublicKey: ...


class SignedEnvelope(ProtocolModel):
    """A signed message: ``sig`` is Ed25519 over the UTF-8 bytes of ``payload``."""

    alg: Literal["Ed25519"] = Field(default="Ed25519", description="Signature algorithm.")
    kid: str = Field(
        pattern=r"^[0-9a-f]{16}$",
        description="Key id of the signer: first 16 hex of SHA-256 of the raw public key.",
    )
    payload: str = Field(
        max_length=MAX_SIGNED_PAYLOAD,
        description="The signed message as canonical JSON text (sorted keys, no spaces).",
    )
    sig: str = Field(
        pattern=r"^[A-Za-z0-9_-]{86}$",
        description="Ed25519 over the UTF-8 bytes of payload; base64url, no padding, "
        "unused bits zero.",
    )


def canonical_json(model: ProtocolModel) -> str:
    """Sorted keys, no spaces, UTF-8: the same model always gives the same text."""
    return json.dumps(
        model.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def key_id(public_key: PublicKey) -> str:
    """Short stable id of a public key: first 16 hex of SHA-256 of its raw bytes."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


def sign(model: ProtocolModel, key: PrivateKey) -> SignedEnvelope:
    payload = canonical_json(model)
    sig = key.sign(payload.encode())
    return SignedEnvelope(
        kid=key_id(key.public_key()),
        payload=payload,
        sig=_b64url(sig),
    )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def verify(envelope: SignedEnvelope, public_key: PublicKey) -> bytes:
    """Return the payload bytes if the signature verifies, else raise ``SignatureInvalid``."""
    expected = key_id(public_key)
    if envelope.kid != expected:
        raise SignatureInvalid(
            f"signed by key {envelope.kid}, but the pinned key is {expected}: "
            "check that the device bundle carries the current hub key"
        )
    data = envelope.payload.encode()
    raw_sig = base64.urlsafe_b64decode(envelope.sig + "==")
    # 86 characters carry 4 spare bits: only the canonical spelling is accepted, so a
    # signed message has exactly one valid wire form.
    if _b64url(raw_sig) != envelope.sig:
        raise SignatureInvalid("signature is not canonical base64url (spare bits must be zero)")
    try:
        public_key.verify(raw_sig, data)
    except _bad_signature_errors():
        raise SignatureInvalid(
            "signature does not verify: the message was forged or altered"
        ) from None
    return data


def _bad_signature_errors() -> tuple[type[Exception], ...]:
    # PyNaCl keys raise a ValueError; cryptography's error class exists wherever its
    # keys do, and importing it here would load cryptography into the edge agent.
    crypto = sys.modules.get("cryptography.exceptions")
    return (ValueError, crypto.InvalidSignature) if crypto is not None else (ValueError,)


def _check_signed_version(data: bytes, where: str, supported: tuple[int, ...]) -> None:
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON: the schema validation below names the problem
    if isinstance(parsed, dict):
        check_version(parsed, where, supported)


def open_command(envelope: SignedEnvelope, hub_key: PublicKey, device_id: str) -> AnyCommand:
    """Verify a command envelope and check it is addressed to ``device_id``.

    Freshness (expiry, boot, counter, id) is the device's job: it needs its state.
    """
    data = verify(envelope, hub_key)
    _check_signed_version(data, "signed command", COMMAND_VERSIONS)
    try:
        command = COMMAND_ADAPTER.validate_json(data, strict=True)
    except ValidationError as exc:
        raise MessageInvalid(f"signed command: {describe_validation_error(exc)}") from None
    if command.device != device_id:
        raise TopicMismatch(f"command is for device {command.device!r}, not {device_id!r}")
    return command


def open_ack(envelope: SignedEnvelope, device_key: PublicKey, device_id: str) -> CommandAck:
    """Verify a device's acknowledgement and check it came from ``device_id``."""
    data = verify(envelope, device_key)
    _check_signed_version(data, "signed ack", versions_of(CommandAck))
    try:
        ack = CommandAck.model_validate_json(data, strict=True)
    except ValidationError as exc:
        raise MessageInvalid(f"signed ack: {describe_validation_error(exc)}") from None
    if ack.device != device_id:
        raise TopicMismatch(f"ack names device {ack.device!r} but came from {device_id!r}")
    return ack


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """A cryptography key (the hub's); a device loads its keys with ``device_keys``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"cannot read signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot read public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 public key")
    return key
