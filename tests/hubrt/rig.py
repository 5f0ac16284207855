"""A running hub (real broker, real database) with devices registered in one home."""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.agent import EdgeAgent
from edge.options import AgentOptions
from edge.outbox import Outbox
from hardware.simulated import SimulatedBoard
from hub.runtime_settings import HubRuntimeSettings
from hub.service import Hub
from hub.storage import Database, add_membership, create_home, create_person, register_device
from hub.storage.devices import get_device
from hub.storage.models_registry import Grant, Role
from hub.storage.snapshot_files import SnapshotFiles
from protocol import encode, new_device_id, utcnow
from protocol.codec import WireMessage
from protocol.device import DeviceStatus
from protocol.mqtt import LinkSettings, MqttLink
from protocol.signing import public_key_pem
from protocol.topics import PREFIX
from tests.fixtures.broker import DecodedMessages


class Clock:
    """The hub's injectable clock: real time plus an offset a test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance_to(self, seconds: float) -> None:
        self.offset = timedelta(seconds=seconds)


class HubRig:
    def __init__(
        self, db: Database, broker: Any, *, clock: Clock | None = None, **runtime: Any
    ) -> None:
        self.db = db
        self.broker = broker
        self.signer = Ed25519PrivateKey.generate()
        self.root = Path(tempfile.mkdtemp(prefix="doorstep-hub-"))
        settings = {
            "mqtt_host": broker.host,
            "mqtt_port": broker.port,
            "mqtt_client_id": f"hub-{new_device_id()}",
            "command_timeout_s": 2.0,
            "health_interval_s": 0.2,
        }
        hub_options = {
            k: runtime.pop(k)
            for k in ("checkpoint_interval_s", "checkpoint_overdue_s", "retention_days")
            if k in runtime
        }
        settings.update(runtime)
        self.runtime = HubRuntimeSettings(**settings)
        self.clock = clock or Clock()
        self.hub = Hub(
            db,
            SnapshotFiles(self.root / "snapshots"),
            self.signer,
            self.runtime,
            clock=self.clock,
            **hub_options,
        )
        self.device_keys: dict[str, Ed25519PrivateKey] = {}
        with db.session() as s:
            self.home = create_home(
                s, name="Margaret's home", timezone="Europe/London", at=utcnow()
            ).id
            self.other_home = create_home(
                s, name="Someone else", timezone="Europe/London", at=utcnow()
            ).id
            self.family = self._person(s, "Anna", Role.FAMILY_MEMBER, self.home)
            self.telecare = self._person(s, "Officer", Role.TELECARE_OFFICER, self.home)
            self.stranger = self._person(s, "Stranger", Role.FAMILY_OWNER, self.other_home)
        self.devices: list[str] = []
        self.links: list[MqttLink] = []
        self.agents: list[tuple[EdgeAgent, SimulatedBoard]] = []

    @staticmethod
    def _person(s: Any, name: str, role: Role, home: str, grants: tuple[Grant, ...] = ()) -> str:
        person = create_person(s, display_name=name, at=utcnow()).id
        add_membership(s, person_id=person, home_id=home, role=role, at=utcnow(), grants=grants)
        return person

    def add_device(self, device_id: str | None = None) -> str:
        device_id = device_id or new_device_id()
        key = Ed25519PrivateKey.generate()
        self.device_keys[device_id] = key
        with self.db.session() as s:
            register_device(
                s,
                device_id=device_id,
                name="Front door",
                public_key_pem=public_key_pem(key.public_key()).decode(),
                at=utcnow(),
                home_id=self.home,
            )
        self.devices.append(device_id)
        return device_id

    def start(self) -> HubRig:
        self.hub.start()
        return self

    def device_link(self, device_id: str, *, will: bool = True) -> MqttLink:
        w = (
            encode(DeviceStatus(device=device_id, online=False, boot_id="ab" * 8, since=utcnow()))
            if will
            else None
        )
        link = MqttLink(
            LinkSettings(
                host=self.broker.host,
                port=self.broker.port,
                client_id=f"{device_id}-{len(self.links)}",
                clean_start=True,
                will=w,
                keepalive_s=2,
            )
        )
        link.start()
        self.links.append(link)
        return link

    def watch_sync(self, device_id: str) -> DecodedMessages:
        got = DecodedMessages()
        link = self.device_link(device_id, will=False)
        link.subscribe(f"{PREFIX}/{device_id}/sync", got)
        assert link.wait_subscribed()
        return got

    def raw(self, link: MqttLink, topic: str, payload: bytes) -> None:
        link.publish(WireMessage(topic, payload, qos=1, retain=False)).wait_for_publish(5)

    def agent(self, device_id: str, **options: Any) -> tuple[EdgeAgent, SimulatedBoard]:
        board = SimulatedBoard(travel_s=0.01)
        opts = {"hold_s": 0.3, "cooldown_s": 0.5, "heartbeat_s": 3600, "frame_interval_s": 0.05}
        opts.update(options)
        agent = EdgeAgent(
            device_id,
            board.hardware,
            LinkSettings(host=self.broker.host, port=self.broker.port, client_id=device_id),
            Outbox(Path(tempfile.mkdtemp(prefix="doorstep-edge-")) / "outbox.sqlite"),
            self.signer.public_key(),
            self.device_keys[device_id],
            AgentOptions(**opts),
        )
        agent.start()
        assert agent.link.wait_connected(5)
        self.agents.append((agent, board))
        return agent, board

    def wait_online(self, device_id: str) -> None:
        """Until the hub holds the door online with its clock (commands need both)."""

        def ready() -> bool:
            with self.db.read_session() as s:
                d = get_device(s, device_id)
                return d.health.value == "online" and d.monotonic_ms is not None

        assert self.wait_until(ready)

    def wait_until(self, predicate: Any, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def stop(self) -> None:
        for agent, board in self.agents:
            agent.stop()
            board.close()
        for link in self.links:
            link.stop()
        self.hub.stop()
