"""Canonical JSON, key ids, Ed25519 sign / verify, and key files.

Signatures are checked with ``cryptography`` directly, independently of ``verify``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.commands import SetPrivacy
from protocol.errors import KeyFileError, SignatureInvalid
from protocol.examples import example_ack, example_commands, example_key
from protocol.signing import (
    SignedEnvelope,
    canonical_json,
    key_id,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
    sign,
    verify,
)

DEVICE = "door-1a2b3c"


def test_canonical_json_sorts_keys_and_has_no_spaces():
    text = canonical_json(example_commands(DEVICE)[0])
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert text == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert ": " not in text
    assert ", " not in text


def test_canonical_json_ignores_argument_order():
    kwargs = example_commands(DEVICE)[4].model_dump()
    reordered = dict(reversed(list(kwargs.items())))
    assert canonical_json(SetPrivacy(**kwargs)) == canonical_json(SetPrivacy(**reordered))


def test_canonical_json_keeps_non_ascii_as_utf8():
    ack = example_ack(DEVICE).model_copy(update={"detail": "Schlüssel klemmt – 🔒"})
    text = canonical_json(ack)
    assert "Schlüssel klemmt – 🔒" in text
    assert "\\u" not in text


def test_key_id_is_sha256_prefix_of_the_raw_public_key():
    public = example_key().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert len(raw) == 32
    assert key_id(public) == hashlib.sha256(raw).hexdigest()[:16]
    assert key_id(Ed25519PrivateKey.generate().public_key()) != key_id(public)


def test_signature_covers_exactly_the_payload_bytes():
    key = example_key()
    env = sign(example_commands(DEVICE)[0], key)
    assert env.alg == "Ed25519"
    assert env.kid == key_id(key.public_key())
    assert env.payload == canonical_json(example_commands(DEVICE)[0])
    raw_sig = base64.urlsafe_b64decode(env.sig + "==")
    key.public_key().verify(raw_sig, env.payload.encode("utf-8"))  # raises if not
    assert verify(env, key.public_key()) == env.payload.encode("utf-8")


def test_signing_is_deterministic():
    # Ed25519 needs no randomness: the same key and message give the same envelope.
    command = example_commands(DEVICE)[1]
    assert sign(command, example_key()) == sign(command, example_key())


def test_verify_refuses_another_key_with_the_same_kid_claim():
    key = example_key()
    stranger = Ed25519PrivateKey.generate()
    env = sign(example_commands(DEVICE)[0], stranger).model_copy(
        update={"kid": key_id(key.public_key())}
    )
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify(env, key.public_key())


def test_verify_refuses_non_canonical_base64():
    env = sign(example_commands(DEVICE)[0], example_key())
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(env.sig[-1])
    # The last character carries 4 unused bits; setting one keeps the decoded bytes.
    twin = env.sig[:-1] + alphabet[last | 1 if last % 2 == 0 else last & ~1]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(env.sig + "==")
    with pytest.raises(SignatureInvalid, match="canonical"):
        verify(env.model_copy(update={"sig": twin}), example_key().public_key())


def test_envelope_fields_are_constrained():
    env = sign(example_commands(DEVICE)[0], example_key()).model_dump()
    for bad in ({"kid": "ABC"}, {"sig": "x"}, {"alg": "RS256"}, {"payload": "x" * 5000}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SignedEnvelope.model_validate(env | bad)


# -- key files ---------------------------------------------------------------------------


def test_pem_round_trip(tmp_path: Path):
    key = Ed25519PrivateKey.generate()
    (tmp_path / "hub.key").write_bytes(private_key_pem(key))
    (tmp_path / "hub.pub").write_bytes(public_key_pem(key.public_key()))
    loaded = load_private_key(tmp_path / "hub.key")
    public = load_public_key(tmp_path / "hub.pub")
    assert key_id(loaded.public_key()) == key_id(public) == key_id(key.public_key())
    env = sign(example_commands(DEVICE)[0], loaded)
    assert verify(env, public)


def test_missing_key_file(tmp_path: Path):
    with pytest.raises(KeyFileError, match=r"hub\.key"):
        load_private_key(tmp_path / "hub.key")
    with pytest.raises(KeyFileError, match=r"hub\.pub"):
        load_public_key(tmp_path / "hub.pub")


def test_garbage_key_file(tmp_path: Path):
    path = tmp_path / "garbage.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError, match=r"garbage\.pem"):
        load_private_key(path)
    with pytest.raises(KeyFileError, match=r"garbage\.pem"):
        load_public_key(path)


def test_wrong_key_type(tmp_path: Path):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    priv = tmp_path / "ec.key"
    priv.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub = tmp_path / "ec.pub"
    pub.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(KeyFileError, match="not an Ed25519 private key"):
        load_private_key(priv)
    with pytest.raises(KeyFileError, match="not an Ed25519 public key"):
        load_public_key(pub)


def test_public_and_private_files_swapped(tmp_path: Path):
    key = Ed25519PrivateKey.generate()
    (tmp_path / "a.pem").write_bytes(private_key_pem(key))
    (tmp_path / "b.pem").write_bytes(public_key_pem(key.public_key()))
    with pytest.raises(KeyFileError, match=r"b\.pem"):
        load_private_key(tmp_path / "b.pem")
    with pytest.raises(KeyFileError, match=r"a\.pem"):
        load_public_key(tmp_path / "a.pem")


def test_encrypted_private_key_needs_a_password(tmp_path: Path):
    path = tmp_path / "locked.key"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(KeyFileError, match=r"locked\.key"):
        load_private_key(path)
