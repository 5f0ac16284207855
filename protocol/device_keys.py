"""Ed25519 keys for a device's own process, on PyNaCl (libsodium).

The edge agent's memory budget is tight: cryptography's Rust core costs it about 9 MB
resident, PyNaCl about 2 MB. These keys have cryptography's method names
(``sign``, ``public_key``, ``verify(signature, data)``, ``public_bytes_raw``), so
``protocol.signing`` takes either kind (its ``PrivateKey`` and ``PublicKey``). The hub
keeps cryptography: it needs X.509 and AES-GCM anyway.

The files are the PEM forms provisioning writes (RFC 8410): an unencrypted PKCS#8
private key and a SubjectPublicKeyInfo public key. Both are one fixed DER prefix and
the 32 key bytes; any other form is refused with what to do instead.

    key = load_signing_key(Path("/etc/doorstep/device.key"))
    hub = load_verify_key(Path("/etc/doorstep/hub.pub"))
    hub.verify(signature, payload)      # raises BadSignature
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .errors import KeyFileError

# RFC 8410: SEQUENCE { version 0, AlgorithmIdentifier { id-Ed25519 }, OCTET STRING {
# OCTET STRING (32-byte seed) } } and SEQUENCE { AlgorithmIdentifier, BIT STRING (32) }.
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class BadSignature(ValueError):
    """The signature does not verify under this key."""


class NaclPublicKey:
    def __init__(self, raw: bytes) -> None:
        self._key = VerifyKey(raw)

    def public_bytes_raw(self) -> bytes:
        return bytes(self._key)

    def verify(self, signature: bytes, data: bytes) -> None:
        try:
            self._key.verify(data, signature)
        except (BadSignatureError, ValueError, TypeError):
            raise BadSignature("signature does not verify") from None


class NaclPrivateKey:
    def __init__(self, seed: bytes) -> None:
        self._key = SigningKey(seed)
        self._public = NaclPublicKey(bytes(self._key.verify_key))

    @classmethod
    def generate(cls) -> NaclPrivateKey:
        return cls(bytes(SigningKey.generate()))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data).signature

    def public_key(self) -> NaclPublicKey:
        return self._public


def load_signing_key(path: Path) -> NaclPrivateKey:
    """The device's private key from its unencrypted PKCS#8 PEM file."""
    seed = _key_bytes(path, "PRIVATE KEY", _PKCS8_PREFIX, "an unencrypted Ed25519 PKCS#8")
    return NaclPrivateKey(seed)


def load_verify_key(path: Path) -> NaclPublicKey:
    """A pinned public key (the hub's) from its SubjectPublicKeyInfo PEM file."""
    raw = _key_bytes(path, "PUBLIC KEY", _SPKI_PREFIX, "an Ed25519 SubjectPublicKeyInfo")
    return NaclPublicKey(raw)


def _key_bytes(path: Path, label: str, prefix: bytes, form: str) -> bytes:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc}") from None
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    head, found, rest = text.partition(begin)
    body, closed, _ = rest.partition(end)
    if not found or not closed or head.strip():
        raise KeyFileError(
            f"{path} is not {form} PEM file ('{begin}' ... '{end}'): use the file "
            "'doorstep provision' wrote"
        )
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{path}: the PEM body is not valid base64") from None
    if len(der) != len(prefix) + 32 or not der.startswith(prefix):
        raise KeyFileError(
            f"{path} holds a key, but not {form} key (another algorithm, encrypted, or "
            "with extra fields): use the file 'doorstep provision' wrote"
        )
    return der[len(prefix) :]
