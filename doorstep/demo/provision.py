"""What the demo generates before anything starts: a deployment and a hub database.

Everything is new on every run (CA, broker, hub and door certificates, signing keys,
invitation tokens); nothing is hard-coded. The folder layout::

    <root>/deploy/             the deployment authority (firmware_config.deployment)
    <root>/deploy/bundles/<door>/device.toml   the simulated door's bundle
    <root>/broker/             Mosquitto's folder: mutual TLS + %u ACL
    <root>/hub/hub.sqlite3     the hub's database, snapshots next to it
    <root>/logs/               one log per process

    >>> demo = make_deployment(Path("/tmp/d"), mqtt_port=18883)          # doctest: +SKIP
    >>> people = prepare_hub(demo, web_url="http://127.0.0.1:8080")     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from firmware_config.broker_config import apply, broker_settings
from firmware_config.deployment import HUB_SERVICE, Deployment
from firmware_config.mosquitto import BrokerSettings
from hub.audit import AuditAction, append, device_ref, ref
from hub.audit.actions import RefKind
from hub.storage.accounts import create_invitation
from hub.storage.database import Database
from hub.storage.devices import register_device
from hub.storage.homes import create_home
from hub.storage.models_registry import Role
from protocol.base import utcnow

HOME_NAME = "Margaret's home"
HOME_TIMEZONE = "Europe/London"
DOOR_NAME = "Front door (simulated)"
INVITATION_LIFETIME = timedelta(days=1)
# (role, how the demo names the person it is for)
PEOPLE = (
    (Role.FAMILY_OWNER, "family member (owner)"),
    (Role.CARER, "carer"),
    (Role.TELECARE_OFFICER, "telecare officer"),
)


@dataclass(frozen=True)
class DemoDeployment:
    root: Path
    deployment: Deployment
    device_id: str
    broker: BrokerSettings

    @property
    def device_config(self) -> Path:
        return self.deployment.bundles / self.device_id / "device.toml"

    @property
    def hub_dir(self) -> Path:
        return self.root / "hub"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.hub_dir / 'hub.sqlite3'}"

    def hub_environment(self) -> dict[str, str]:
        """``DOORSTEP_HUB_*`` for ``doorstep serve``: this database, keys and broker."""
        tls = self.deployment.service_tls(HUB_SERVICE)
        dep = self.deployment
        return {
            "DOORSTEP_HUB_DATA_DIR": str(self.hub_dir),
            "DOORSTEP_HUB_DATABASE_URL": self.database_url,
            "DOORSTEP_HUB_SIGNING_KEY": str(dep.hub_signing_key),
            "DOORSTEP_HUB_SIGNING_PUBLIC_KEY": str(dep.hub_signing_public),
            "DOORSTEP_HUB_MQTT_HOST": self.broker.host,
            "DOORSTEP_HUB_MQTT_PORT": str(self.broker.port),
            "DOORSTEP_HUB_MQTT_CA": str(tls.ca),
            "DOORSTEP_HUB_MQTT_CERT": str(tls.cert),
            "DOORSTEP_HUB_MQTT_KEY": str(tls.key),
            "DOORSTEP_HUB_MQTT_CLIENT_ID": "doorstep-hub-demo",
        }


@dataclass(frozen=True)
class Invitee:
    role: Role
    who: str
    url: str


@dataclass(frozen=True)
class DemoHome:
    home_id: str
    invitees: tuple[Invitee, ...]


def make_deployment(root: Path, *, mqtt_port: int) -> DemoDeployment:
    """A new CA, broker and hub certificates, one simulated door, the broker folder."""
    dep = Deployment.init(root / "deploy", hosts=["127.0.0.1"], port=mqtt_port)
    device = dep.add_device(name=DOOR_NAME, hardware="simulated")
    settings = broker_settings(dep, root / "broker", port=mqtt_port, bind="127.0.0.1")
    apply(dep, settings)
    (root / "logs").mkdir(exist_ok=True)
    (root / "hub").mkdir(exist_ok=True)
    return DemoDeployment(root=root, deployment=dep, device_id=device.id, broker=settings)


def prepare_hub(demo: DemoDeployment, *, web_url: str) -> DemoHome:
    """Migrate the database; add a home, the door in it and one invitation per person."""
    db = Database(demo.database_url)
    try:
        db.upgrade()
        now = utcnow()
        public_key = (demo.deployment.device_dir(demo.device_id) / "device-signing.pub").read_text()
        invitees = []
        operator = ref(RefKind.OPERATOR, "demo")
        with db.session() as s:
            home = create_home(s, name=HOME_NAME, timezone=HOME_TIMEZONE, at=now)
            home_ref = ref(RefKind.HOME, home.id)
            append(s, AuditAction.HOME_CREATED, actor=operator, at=now, subjects=[home_ref])
            register_device(
                s,
                device_id=demo.device_id,
                name=DOOR_NAME,
                public_key_pem=public_key,
                at=now,
                home_id=home.id,
            )
            append(
                s,
                AuditAction.DEVICE_REGISTERED,
                actor=operator,
                at=now,
                subjects=[device_ref(demo.device_id), home_ref],
            )
            for role, who in PEOPLE:
                invitation, token = create_invitation(
                    s,
                    home_id=home.id,
                    role=role,
                    invited_by=operator,
                    at=now,
                    valid_for=INVITATION_LIFETIME,
                )
                append(
                    s,
                    AuditAction.INVITATION_CREATED,
                    actor=operator,
                    at=now,
                    subjects=[home_ref, ref(RefKind.INVITATION, invitation.id)],
                    details={"role": role.value, "expires_at": invitation.expires_at.isoformat()},
                )
                # The token sits in the fragment: browsers never send it to the server.
                invitees.append(Invitee(role, who, f"{web_url}/invite#{token}"))
            home_id = home.id
    finally:
        db.dispose()
    return DemoHome(home_id=home_id, invitees=tuple(invitees))
