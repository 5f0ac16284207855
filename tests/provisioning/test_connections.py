"""Who may connect: only certificates of this deployment's CA, unexpired, unrevoked."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import ssl
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from firmware_config import pki
from firmware_config.deployment import Deployment
from protocol.mqtt import LinkError, MqttLink, TlsFiles
from tests.fixtures.tls_broker import RawClient, TlsBroker

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [paho.MQTTv311, paho.MQTTv5], ids=["mqtt311", "mqtt5"]
)


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="doorstep-certs-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def client_files(folder: Path, ca: Path, key: pki.PrivateKey, cert) -> TlsFiles:
    pki.write_private(folder / "c.key", pki.key_pem(key), force=True)
    pki.write_public(folder / "c.pem", pki.cert_pem(cert))
    return TlsFiles(ca=ca, cert=folder / "c.pem", key=folder / "c.key")


def connects(
    broker: TlsBroker, tls: TlsFiles | None, protocol: int, ca: Path | None = None
) -> bool:
    client = RawClient(broker.host, broker.port, tls, protocol, "probe", ca=ca)
    try:
        return client.connect(timeout=3)
    finally:
        client.close()


@PROTOCOLS
def test_every_provisioned_identity_connects(tls_broker, protocol):
    for identity in (*tls_broker.devices, "hub"):
        assert connects(tls_broker, tls_broker.tls(identity), protocol), identity


@PROTOCOLS
def test_no_certificate_is_refused(tls_broker, protocol):
    assert not connects(tls_broker, None, protocol, ca=tls_broker.deployment.ca_cert)


@PROTOCOLS
def test_plain_tcp_without_tls_is_refused(tls_broker, protocol):
    assert not connects(tls_broker, None, protocol)


@PROTOCOLS
def test_certificate_from_another_ca_is_refused(tls_broker, scratch, protocol):
    other = Deployment.init(scratch / "other")
    door = tls_broker.devices[0]
    # Same CN as a real door, signed by a stranger's CA; it trusts our broker's CA.
    key, cert = other.issue_client(door)
    tls = client_files(scratch, tls_broker.deployment.ca_cert, key, cert)
    assert not connects(tls_broker, tls, protocol)


@PROTOCOLS
def test_expired_certificate_is_refused(tls_broker, scratch, protocol):
    dep = tls_broker.deployment
    door = tls_broker.devices[0]
    now = datetime.now(UTC)
    fresh = client_files(scratch, dep.ca_cert, *dep.issue_client(door))
    assert connects(tls_broker, fresh, protocol)  # the same path with valid dates works
    expired = client_files(
        scratch,
        dep.ca_cert,
        *dep.issue_client(
            door, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
        ),
    )
    assert not connects(tls_broker, expired, protocol)


@PROTOCOLS
def test_certificate_not_yet_valid_is_refused(tls_broker, scratch, protocol):
    dep = tls_broker.deployment
    now = datetime.now(UTC)
    early = client_files(
        scratch,
        dep.ca_cert,
        *dep.issue_client(tls_broker.devices[1], not_before=now + timedelta(days=2)),
    )
    assert not connects(tls_broker, early, protocol)


def test_mqtt_link_reports_refusal_as_link_error(tls_broker, scratch):
    other = Deployment.init(scratch / "other")
    key, cert = other.issue_client(tls_broker.devices[0])
    tls = client_files(scratch, tls_broker.deployment.ca_cert, key, cert)
    settings = tls_broker.link_settings(tls_broker.devices[0])
    link = MqttLink(dataclasses.replace(settings, tls=tls))
    with pytest.raises(LinkError):
        link.start(timeout=1)


def test_broker_certificate_names_the_hosts(tls_broker):
    cert = pki.load_cert(tls_broker.deployment.server_cert)
    sans = cert.extensions.get_extension_for_class(pki.x509.SubjectAlternativeName).value
    names = {str(n.value) for n in sans}
    assert {"localhost", "127.0.0.1"} <= names


@pytest.mark.parametrize(
    ("ceiling", "expected"),
    [(ssl.TLSVersion.TLSv1_3, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")],
)
def test_tls_version_setting_is_a_minimum(tls_broker, ceiling, expected):
    tls = tls_broker.tls(tls_broker.devices[0])
    ctx = ssl.create_default_context(cafile=str(tls.ca))
    ctx.load_cert_chain(str(tls.cert), str(tls.key))
    ctx.maximum_version = ceiling
    with (
        socket.create_connection((tls_broker.host, tls_broker.port), timeout=3) as sock,
        ctx.wrap_socket(sock, server_hostname=tls_broker.host) as conn,
    ):
        assert conn.version() == expected
