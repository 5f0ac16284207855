"""The device's PyNaCl keys: the files provisioning writes, and signatures that each
side (cryptography on the hub, PyNaCl on the door) makes and checks for the other."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.commands import AckOutcome
from protocol.device_keys import (
    BadSignature,
    NaclPrivateKey,
    load_signing_key,
    load_verify_key,
)
from protocol.errors import KeyFileError, SignatureInvalid
from protocol.examples import example_ack, example_commands
from protocol.signing import (
    key_id,
    open_ack,
    open_command,
    private_key_pem,
    public_key_pem,
    sign,
)

DEVICE = "door-1a2b3c"


@pytest.fixture
def crypto_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_keys_read_from_provisioned_pem_files_are_the_same_keys(tmp_path, crypto_key):
    private = load_signing_key(_write(tmp_path, "d.key", private_key_pem(crypto_key)))
    public = load_verify_key(_write(tmp_path, "d.pub", public_key_pem(crypto_key.public_key())))
    raw = crypto_key.public_key().public_bytes_raw()
    assert private.public_key().public_bytes_raw() == raw
    assert public.public_bytes_raw() == raw
    assert key_id(public) == key_id(crypto_key.public_key())
    # Ed25519 is deterministic: the same key signs the same bytes identically.
    assert private.sign(b"ring") == crypto_key.sign(b"ring")


def test_a_hub_signed_command_opens_with_the_door_s_key(tmp_path, crypto_key):
    hub_pub = load_verify_key(_write(tmp_path, "hub.pub", public_key_pem(crypto_key.public_key())))
    command = example_commands(DEVICE)[0]
    envelope = sign(command, crypto_key)
    assert open_command(envelope, hub_pub, DEVICE) == command
    altered = envelope.payload.replace(f'"counter":{command.counter}', '"counter":999999')
    assert altered != envelope.payload
    with pytest.raises(SignatureInvalid, match="forged or altered"):
        open_command(envelope.model_copy(update={"payload": altered}), hub_pub, DEVICE)


def test_a_door_signed_ack_opens_with_the_hub_s_cryptography_key(crypto_key):
    door = NaclPrivateKey.generate()
    envelope = sign(example_ack(DEVICE), door)
    door_pub = Ed25519PublicKey.from_public_bytes(door.public_key().public_bytes_raw())
    assert open_ack(envelope, door_pub, DEVICE).outcome is AckOutcome.EXECUTED
    with pytest.raises(SignatureInvalid, match="pinned key"):
        open_ack(envelope, crypto_key.public_key(), DEVICE)
    with pytest.raises(SignatureInvalid, match="forged or altered"):
        open_ack(envelope.model_copy(update={"sig": "A" * 86}), door_pub, DEVICE)


def test_a_bad_signature_is_a_bad_signature_error():
    key = NaclPrivateKey.generate()
    with pytest.raises(BadSignature):
        key.public_key().verify(b"\0" * 64, b"data")


@pytest.mark.parametrize(
    ("label", "content"),
    [
        ("missing", None),
        ("not pem", b"hello"),
        ("public key given as private", "public"),
        ("encrypted", "encrypted"),
        ("another algorithm", "ec"),
        ("bad base64", b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n"),
        ("extra text before", "prefixed"),
    ],
)
def test_other_private_key_files_are_refused_with_a_reason(tmp_path, crypto_key, label, content):
    if content == "public":
        content = public_key_pem(crypto_key.public_key())
    elif content == "encrypted":
        content = crypto_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    elif content == "ec":
        content = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    elif content == "prefixed":
        content = b"junk\n" + private_key_pem(crypto_key)
    path = tmp_path / "device.key"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KeyFileError, match=str(path)):
        load_signing_key(path)


def test_a_public_key_of_another_algorithm_is_refused(tmp_path):
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFileError, match="not an Ed25519"):
        load_verify_key(_write(tmp_path, "hub.pub", other))
    # A private key's PEM where the public key belongs: refused, not misread.
    key = Ed25519PrivateKey.generate()
    with pytest.raises(KeyFileError):
        load_verify_key(_write(tmp_path, "hub2.pub", private_key_pem(key)))
