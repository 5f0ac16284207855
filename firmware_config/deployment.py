"""The deployment authority: a folder holding the private CA, the broker's and the
services' certificates, the hub's command-signing key and the device registry.

::

    deploy/                        0711: Mosquitto may pass through to deploy/mosquitto/
      deployment.json              registry of devices, services and revocations (0600)
      ca/ca.pem ca.key crl.pem     private CA (key 0600) and its revocation list
      server/server.pem .key       the broker's certificate (SANs: --host names + localhost)
      services/svc.hub/client.*    client certificate of each hub process ("svc." + name)
      keys/hub-signing.key .pub    the hub's Ed25519 command-signing key
      devices/<id>/                public parts kept here: device.pem, device-signing.pub
      bundles/<id>/ + <id>.tar.gz  what goes to the Pi (private keys: delete after copying)

    >>> dep = Deployment.init(Path("/srv/doorstep"), hosts=["hub.local"])   # doctest: +SKIP
    >>> rec = dep.add_device(name="Front door")                             # doctest: +SKIP
    >>> dep.remove_device(rec.id)  # revoked: CRL rewritten, reload the broker  # doctest: +SKIP
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.errors import InvalidDeviceId
from protocol.ids import check_device_id, new_device_id
from protocol.mqtt import TlsFiles
from protocol.signing import key_id, load_private_key, private_key_pem, public_key_pem

from . import pki
from .bundle import BundleFiles, template_path, write_bundle
from .deployment_layout import DeploymentLayout, check_hosts
from .errors import DeploymentMissing, DeviceExists, InvalidIdentity, KeyExists, UnknownDevice
from .registry import (
    SERVICE_NAME_PATTERN,
    SERVICE_PREFIX,
    DeviceRecord,
    Registry,
    RevokedCert,
    ServiceRecord,
    ServiceRole,
    load_registry,
    save_registry,
)

HUB_SERVICE = "hub"
DEFAULT_PORT = 8883


class Deployment(DeploymentLayout):
    """One deployment folder. Every method re-reads the registry: the folder is the truth."""

    # -- creation --------------------------------------------------------------
    @classmethod
    def init(
        cls,
        root: Path,
        hosts: Sequence[str] = (),
        port: int = DEFAULT_PORT,
        *,
        force: bool = False,
    ) -> Deployment:
        """Create the CA, the broker certificate, the hub's certificate and signing key."""
        dep = cls(Path(root))
        all_hosts = check_hosts(hosts)
        if dep.ca_key.exists() and not force:
            raise KeyExists(
                f"{dep.root} already holds a deployment (its CA key exists): keep using it, or "
                "pass --force to start over with a new CA (every device then needs a new bundle)"
            )
        pki.ensure_dir(dep.root, 0o711)
        if force:
            # A new CA makes every certificate of the old one worthless.
            for stale in ("devices", "services", "bundles"):
                shutil.rmtree(dep.root / stale, ignore_errors=True)
        for sub in ("ca", "server", "keys", "services", "devices", "bundles"):
            pki.ensure_dir(dep.root / sub)
        ca_key = pki.new_key()
        ca = pki.make_ca(ca_key, f"Doorstep CA {all_hosts[0]}")
        pki.write_private(dep.ca_key, pki.key_pem(ca_key), force=True)
        pki.write_public(dep.ca_cert, pki.cert_pem(ca))
        pki.write_public(dep.crl, pki.crl_pem(pki.make_crl(ca, ca_key, [])))
        server_key = pki.new_key()
        server = pki.issue_server_cert(ca, ca_key, server_key.public_key(), all_hosts)
        pki.write_private(dep.server_key, pki.key_pem(server_key), force=True)
        pki.write_public(dep.server_cert, pki.cert_pem(server))
        signing = Ed25519PrivateKey.generate()
        pki.write_private(dep.hub_signing_key, private_key_pem(signing), force=True)
        pki.write_public(dep.hub_signing_public, public_key_pem(signing.public_key()))
        save_registry(dep.registry_path, Registry(broker_hosts=all_hosts, broker_port=port))
        dep.add_service(HUB_SERVICE)
        return dep

    @classmethod
    def open(cls, root: Path) -> Deployment:
        """An existing deployment, or ``DeploymentMissing`` saying how to create one."""
        dep = cls(Path(root))
        if not (dep.registry_path.is_file() and dep.ca_key.is_file()):
            raise DeploymentMissing(
                f"no deployment in {dep.root} (no CA there): run "
                f"'doorstep provision init --dir {dep.root}' first, or pass the right --dir"
            )
        return dep

    # -- registry --------------------------------------------------------------
    def registry(self) -> Registry:
        return load_registry(self.registry_path)

    def _ca(self) -> tuple[x509.Certificate, pki.PrivateKey]:
        return pki.load_cert(self.ca_cert), pki.load_key(self.ca_key)

    def issue_client(
        self,
        common_name: str,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> tuple[pki.PrivateKey, x509.Certificate]:
        """A fresh key and CA-signed client certificate, not registered (tests use it directly)."""
        ca, ca_key = self._ca()
        key = pki.new_key()
        cert = pki.issue_client_cert(
            ca, ca_key, key.public_key(), common_name, not_before=not_before, not_after=not_after
        )
        return key, cert

    def add_service(
        self, name: str, *, force: bool = False, role: ServiceRole = ServiceRole.HUB
    ) -> ServiceRecord:
        """A client certificate for one more hub process (or ``role``), CN ``svc.<name>``."""
        if not re.fullmatch(SERVICE_NAME_PATTERN, name):
            raise InvalidIdentity(
                f"service name {name!r} is invalid: use 1-31 characters of a-z, 0-9 and '-'"
            )
        reg = self.registry()
        old = reg.services.get(name)
        folder = self.service_dir(name)
        if (old or (folder / "client.key").exists()) and not force:
            raise KeyExists(
                f"service {name!r} already has a certificate in {folder}: pass --force to "
                "replace it (the old one is revoked; then run 'doorstep provision broker-config "
                "--reload' and restart that service)"
            )
        key, cert = self.issue_client(SERVICE_PREFIX + name)
        pki.ensure_dir(folder)
        pki.write_private(folder / "client.key", pki.key_pem(key), force=True)
        pki.write_public(folder / "client.pem", pki.cert_pem(cert))
        rec = ServiceRecord(
            name=name,
            role=role,
            serial=f"{cert.serial_number:x}",
            not_after=cert.not_valid_after_utc,
            added=datetime.now(UTC),
        )
        revoked = list(reg.revoked)
        if old is not None:
            revoked.append(self._revocation(old.identity, old.serial))
        reg = reg.model_copy(update={"services": {**reg.services, name: rec}, "revoked": revoked})
        self._write_crl(reg)
        save_registry(self.registry_path, reg)
        return rec

    def add_device(
        self,
        device_id: str | None = None,
        name: str | None = None,
        *,
        hardware: str = "pi4",
        template: Path | None = None,
    ) -> DeviceRecord:
        """Register a door: client certificate, ack-signing key and a bundle for the Pi."""
        reg = self.registry()
        device_id = self._unused_device_id(reg, device_id)
        key, cert = self.issue_client(device_id)
        signing = Ed25519PrivateKey.generate()
        folder = pki.ensure_dir(self.device_dir(device_id))
        pki.write_public(folder / "device.pem", pki.cert_pem(cert))
        pki.write_public(folder / "device-signing.pub", public_key_pem(signing.public_key()))
        files = BundleFiles(
            ca=self.ca_cert.read_bytes(),
            cert=pki.cert_pem(cert),
            key=pki.key_pem(key),
            signing_key=private_key_pem(signing),
            hub_public=self.hub_signing_public.read_bytes(),
        )
        rec = DeviceRecord(
            id=device_id,
            name=name or device_id,
            serial=f"{cert.serial_number:x}",
            not_after=cert.not_valid_after_utc,
            signing_key_id=key_id(signing.public_key()),
            added=datetime.now(UTC),
        )
        write_bundle(
            self.bundles,
            device_id,
            rec.name,
            (reg.broker_hosts[0], reg.broker_port),
            files,
            template or template_path(hardware),
        )
        # Registered last: a failure above leaves no half-made device in the registry.
        save_registry(
            self.registry_path, reg.model_copy(update={"devices": {**reg.devices, device_id: rec}})
        )
        return rec

    def remove_device(self, device_id: str) -> RevokedCert:
        """Revoke the device's certificate and drop it from the registry.

        The broker only sees the new CRL and ACL after ``broker_config.apply`` and a
        restart (see docs/security.md: Mosquitto 2.0.11 does not re-read the CRL on SIGHUP).
        """
        reg = self.registry()
        rec = reg.devices.get(device_id)
        if rec is None:
            gone = [r for r in reg.revoked if r.identity == device_id]
            if gone:
                raise UnknownDevice(
                    f"device {device_id!r} was already revoked on {gone[-1].revoked_at:%Y-%m-%d}: "
                    "nothing to do"
                )
            known = ", ".join(sorted(reg.devices)) or "none"
            raise UnknownDevice(
                f"no device {device_id!r} in {self.root} (registered: {known}): "
                "see 'doorstep provision list'"
            )
        revocation = self._revocation(device_id, rec.serial)
        devices = {k: v for k, v in reg.devices.items() if k != device_id}
        reg = reg.model_copy(update={"devices": devices, "revoked": [*reg.revoked, revocation]})
        self._write_crl(reg)
        save_registry(self.registry_path, reg)
        # The bundle holds the revoked private keys; nothing should use them again.
        shutil.rmtree(self.bundles / device_id, ignore_errors=True)
        (self.bundles / f"{device_id}.tar.gz").unlink(missing_ok=True)
        return revocation

    @staticmethod
    def _revocation(identity: str, serial: str) -> RevokedCert:
        return RevokedCert(identity=identity, serial=serial, revoked_at=datetime.now(UTC))

    def _write_crl(self, reg: Registry) -> None:
        ca, ca_key = self._ca()
        entries = [(int(r.serial, 16), r.revoked_at) for r in reg.revoked]
        pki.write_public(self.crl, pki.crl_pem(pki.make_crl(ca, ca_key, entries)))

    def _unused_device_id(self, reg: Registry, device_id: str | None) -> str:
        if device_id is None:
            while (device_id := new_device_id()) in reg.devices:
                pass
            return device_id
        try:
            check_device_id(device_id)
        except InvalidDeviceId as exc:
            raise InvalidIdentity(f"{exc} (or omit --id to get a fresh one)") from None
        if device_id in reg.devices:
            raise DeviceExists(
                f"device {device_id!r} is already registered in {self.root}: omit --id for a "
                f"fresh id, or remove it first with 'doorstep provision remove-device {device_id}'"
            )
        if any(r.identity == device_id for r in reg.revoked):
            raise DeviceExists(
                f"device id {device_id!r} was revoked and is never reused (the broker denies it): "
                "omit --id for a fresh id"
            )
        return device_id

    # -- what clients need -------------------------------------------------------
    def service_tls(self, name: str = HUB_SERVICE) -> TlsFiles:
        folder = self.service_dir(name)
        if not (folder / "client.key").is_file():
            raise UnknownDevice(
                f"no service {name!r} in {self.root}: run "
                f"'doorstep provision add-service {name} --dir {self.root}'"
            )
        return TlsFiles(ca=self.ca_cert, cert=folder / "client.pem", key=folder / "client.key")

    def device_tls(self, device_id: str) -> TlsFiles:
        """The device's TLS files, from its bundle (gone once the bundle was deleted)."""
        folder = self.bundles / device_id
        if not (folder / "certs" / "device.key").is_file():
            raise UnknownDevice(
                f"no bundle for device {device_id!r} in {self.bundles}: its private key lives "
                "only there (and on the Pi)"
            )
        certs = folder / "certs"
        return TlsFiles(ca=certs / "ca.pem", cert=certs / "device.pem", key=certs / "device.key")

    def hub_signer(self) -> Ed25519PrivateKey:
        return load_private_key(self.hub_signing_key)
