"""The certificate authority's arithmetic: keys, certificates and revocation lists.

Pure functions over ``cryptography`` objects plus two careful file writers; the
``Deployment`` decides what to issue and where it lives. Keys are ECDSA P-256
(Mosquitto 2.0.11 and every Pi's OpenSSL accept them).

    >>> ca_key = new_key()
    >>> ca = make_ca(ca_key, "Doorstep CA")
    >>> cert = issue_client_cert(ca, ca_key, new_key().public_key(), "door-1a2b3c")
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import FolderNotWritable, KeyExists, ProvisioningError

CA_DAYS = 20 * 365
LEAF_DAYS = 10 * 365
# A Pi has no real-time clock and may boot with an old fake-hwclock time:
# backdating keeps a freshly issued certificate valid on such a clock.
BACKDATE = timedelta(days=1)

PrivateKey = ec.EllipticCurvePrivateKey
PublicKey = ec.EllipticCurvePublicKey


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Doorstep"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(
    subject: str,
    issuer: x509.Name,
    public_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _key_usage(*allowed: str) -> x509.KeyUsage:
    return x509.KeyUsage(**{usage: usage in allowed for usage in _USAGES})


def make_ca(key: PrivateKey, common_name: str, now: datetime | None = None) -> x509.Certificate:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    now = now or datetime.now(UTC)
    builder = (
        _builder(
            common_name,
            _name(common_name),
            key.public_key(),
            now - BACKDATE,
            now + timedelta(days=CA_DAYS),
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage("key_cert_sign", "crl_sign"), critical=True)
    )
    return builder.sign(key, hashes.SHA256())


def _leaf(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    public_key: PublicKey,
    common_name: str,
    usage: x509.ObjectIdentifier,
    sans: Sequence[x509.GeneralName],
    not_before: datetime | None,
    not_after: datetime | None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    start = not_before or now - BACKDATE
    # A leaf never outlives its CA: OpenSSL would reject the chain from that day on.
    end = min(not_after or now + timedelta(days=LEAF_DAYS), ca.not_valid_after_utc)
    builder = (
        _builder(common_name, ca.subject, public_key, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage("digital_signature"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """SAN entries: IP addresses as ``IPAddress``, everything else as ``DNSName``."""
    out: list[x509.GeneralName] = []
    for host in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


def issue_server_cert(
    ca: x509.Certificate, ca_key: PrivateKey, public_key: PublicKey, hosts: Sequence[str]
) -> x509.Certificate:
    """The broker's certificate; clients check the host they dial against its SANs."""
    return _leaf(
        ca,
        ca_key,
        public_key,
        hosts[0],
        ExtendedKeyUsageOID.SERVER_AUTH,
        host_names(hosts),
        None,
        None,
    )


def issue_client_cert(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    public_key: PublicKey,
    common_name: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> x509.Certificate:
    """A client certificate; with ``use_identity_as_username`` its CN is the MQTT username."""
    return _leaf(
        ca,
        ca_key,
        public_key,
        common_name,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        (),
        not_before,
        not_after,
    )


def make_crl(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    revoked: Iterable[tuple[int, datetime]],
    now: datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL listing ``(serial, revoked_at)`` pairs.

    OpenSSL refuses *every* client once a CRL's next-update time has passed, so
    it is set to the CA's own expiry: the list stays valid until it is replaced.
    """
    now = now or datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - BACKDATE)
        .next_update(ca.not_valid_after_utc)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    for serial, when in sorted(revoked):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca_key, hashes.SHA256())


# -- serialisation -----------------------------------------------------------
def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ProvisioningError(f"cannot read certificate {path}: {exc}") from None


def load_key(path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ProvisioningError(f"cannot read private key {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ProvisioningError(f"{path} is not an ECDSA private key")
    return key


# -- files ---------------------------------------------------------------------
def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        path.chmod(mode)
    except OSError as exc:
        raise FolderNotWritable(
            f"cannot create folder {path}: {exc.strerror}: choose a folder you may write "
            "to with --dir, or run as the user who owns it"
        ) from None
    return path


def write_file(path: Path, data: bytes, *, mode: int, force: bool = True) -> Path:
    """Write atomically with ``mode`` from the first byte; refuse to replace unless ``force``.

    The temporary file is created 0600 by ``mkstemp``, so a private key is never
    readable by others, not even for an instant.
    """
    if not force and path.exists():
        raise KeyExists(
            f"{path} already exists: pass --force to replace it (devices using the old "
            "key or certificate must then be given new ones)"
        )
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FolderNotWritable(
            f"cannot write {path}: {exc.strerror}: check the folder's owner and free space"
        ) from None
    return path


def write_private(path: Path, data: bytes, *, force: bool = False) -> Path:
    return write_file(path, data, mode=0o600, force=force)


def write_public(path: Path, data: bytes) -> Path:
    return write_file(path, data, mode=0o644)
