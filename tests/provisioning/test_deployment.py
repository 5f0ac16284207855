"""The deployment on disk: key modes, bundles, identities, idempotent broker files."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from firmware_config import pki
from firmware_config.broker_config import acl_text, apply, broker_files, broker_settings
from firmware_config.deployment import Deployment
from firmware_config.device_config import load_device_config
from firmware_config.errors import DeviceExists, InvalidIdentity, KeyExists
from protocol.examples import example_ack, example_commands
from protocol.signing import (
    load_private_key,
    load_public_key,
    open_ack,
    open_command,
    sign,
)


@pytest.fixture(scope="module")
def dep() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="doorstep-dep-"))
    root.chmod(0o711)  # Mosquitto (user mosquitto) must pass through to deploy/mosquitto
    d = Deployment.init(root / "deploy", hosts=["hub.example.org", "192.0.2.7"])
    d.add_device("door-front1", "Front door", hardware="simulated")
    d.add_device(name="Back door")
    d.add_service("hub-2")
    yield d
    shutil.rmtree(root, ignore_errors=True)


def cn(cert: x509.Certificate) -> str:
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_every_private_key_is_0600(dep):
    apply(dep, broker_settings(dep))
    keys = [p for p in dep.root.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]
    # CA, server, broker copy, two services, hub signing, two doors x (TLS, signing).
    assert len(keys) == 10, keys
    for path in keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for archive in dep.bundles.glob("*.tar.gz"):
        assert stat.S_IMODE(archive.stat().st_mode) == 0o600
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.name.endswith(".key"):
                    assert member.mode & 0o077 == 0, member.name
    assert stat.S_IMODE(dep.registry_path.stat().st_mode) == 0o600


def test_existing_keys_are_not_overwritten_without_force(dep):
    before = dep.ca_key.read_bytes()
    with pytest.raises(KeyExists, match="--force"):
        Deployment.init(dep.root)
    with pytest.raises(KeyExists, match="--force"):
        dep.add_service("hub-2")
    with pytest.raises(KeyExists, match="--force"):
        pki.write_private(dep.ca_key, b"x")
    assert dep.ca_key.read_bytes() == before


def test_bundle_is_a_valid_device_config_with_matching_keys(dep):
    for door in dep.registry().devices:
        bundle = dep.bundles / door
        cfg = load_device_config(bundle / "device.toml", check_files=True)
        assert cfg.device.id == door
        assert cfg.broker.host == "hub.example.org"
        assert cfg.broker.port == 8883
        cert = pki.load_cert(cfg.broker.cert)
        assert cn(cert) == door
        assert f"{cert.serial_number:x}" == dep.registry().devices[door].serial
        key = pki.load_key(cfg.broker.key)
        assert key.public_key().public_numbers() == cert.public_key().public_numbers()
        assert cfg.broker.ca.read_bytes() == dep.ca_cert.read_bytes()
        # The hub verifies the door's acks with the key kept in the deployment ...
        device_signer = load_private_key(cfg.keys.signing_key)
        ack = example_ack(door)
        assert (
            open_ack(
                sign(ack, device_signer), load_public_key(dep.device_signing_public(door)), door
            )
            == ack
        )
        # ... and the door verifies commands with the pinned hub key.
        command = example_commands(door)[0]
        pinned = load_public_key(cfg.keys.hub_public_key)
        assert open_command(sign(command, dep.hub_signer()), pinned, door) == command
        with tarfile.open(dep.bundles / f"{door}.tar.gz") as tar:
            names = set(tar.getnames())
        assert f"{door}/device.toml" in names
        assert f"{door}/certs/device.key" in names


def test_certificates_chain_to_the_ca_and_name_their_roles(dep):
    ca = pki.load_cert(dep.ca_cert)
    server = pki.load_cert(dep.server_cert)
    server.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(v.value) for v in sans} == {
        "hub.example.org",
        "192.0.2.7",
        "localhost",
        "127.0.0.1",
    }
    for name in ("hub", "hub-2"):
        cert = pki.load_cert(dep.service_tls(name).cert)
        cert.verify_directly_issued_by(ca)
        assert cn(cert) == f"svc.{name}"
    crl = x509.load_pem_x509_crl(dep.crl.read_bytes())
    assert crl.is_signature_valid(ca.public_key())


@pytest.mark.parametrize("bad", ["svc.hub", "Door-1", "a", "door/1", "door+", "door#", "hub 2"])
def test_identities_are_validated(dep, bad):
    with pytest.raises(InvalidIdentity):
        dep.add_device(bad)


@pytest.mark.parametrize("bad", ["svc.x", "Hub", "", "a/b", "+"])
def test_service_names_are_validated(dep, bad):
    with pytest.raises(InvalidIdentity):
        dep.add_service(bad)


def test_duplicate_device_is_refused(dep):
    with pytest.raises(DeviceExists, match="already registered"):
        dep.add_device("door-front1")


def test_regenerating_broker_files_is_idempotent(dep):
    settings = broker_settings(dep, port=18883)
    first = {p: data for p, (data, _m) in broker_files(dep, settings).items()}
    apply(dep, settings)
    assert apply(dep, settings) == []
    assert {p: p.read_bytes() for p in first} == first
    shutil.rmtree(settings.layout.root)
    apply(dep, settings)
    assert {p: p.read_bytes() for p in first} == first


def test_broker_config_has_no_anonymous_access_or_passwords(dep):
    settings = broker_settings(dep)
    conf = broker_files(dep, settings)[settings.layout.conf][0].decode()
    lines = conf.splitlines()
    for required in (
        "allow_anonymous false",
        "require_certificate true",
        "use_identity_as_username true",
        "tls_version tlsv1.2",
        "set_tcp_nodelay true",
        "autosave_on_changes false",
        "autosave_interval 1",
    ):
        assert required in lines
    assert not any(w in conf for w in ("password_file", "psk_file", "allow_anonymous true"))
    assert any(line.startswith("crlfile ") for line in lines)
    assert "%c" not in acl_text(dep.registry())


def test_files_the_broker_reads_belong_to_its_user(dep):
    settings = broker_settings(dep)
    apply(dep, settings)
    if os.geteuid() != 0:
        pytest.skip("only root hands files over to user 'mosquitto'")
    import pwd

    uid = pwd.getpwnam("mosquitto").pw_uid
    for path in broker_files(dep, settings):
        assert path.stat().st_uid == uid, path
    # The CA key never goes into the broker's folder.
    assert not any(
        b"PRIVATE KEY" in p.read_bytes() and p.read_bytes() == dep.ca_key.read_bytes()
        for p in settings.layout.root.rglob("*")
        if p.is_file()
    )
