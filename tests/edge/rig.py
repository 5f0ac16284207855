"""An edge agent on the simulated board, talking to a private broker, with a
test 'hub' that watches the device's topics and can send signed commands."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.agent import EdgeAgent
from edge.options import AgentOptions
from edge.outbox import Outbox
from hardware.simulated import SimulatedBoard
from protocol import (
    CommandAck,
    Sync,
    TopicKind,
    UnlockDoor,
    encode,
    encode_signed,
    new_device_id,
    new_message_id,
    open_ack,
    sign,
    utcnow,
)
from protocol.codec import WireMessage, WireProperties
from protocol.mqtt import LinkSettings, MqttLink
from protocol.signing import SignedEnvelope
from protocol.topics import PREFIX
from tests.fixtures.broker import DecodedMessages


class Rig:
    def __init__(
        self,
        broker: Any,
        root: Path,
        *,
        options: AgentOptions | None = None,
        device_id: str | None = None,
        hub_client_id: str | None = None,
    ) -> None:
        self.device_id = device_id or new_device_id()
        self.broker = broker
        self.root = root
        self.hub_key = Ed25519PrivateKey.generate()
        self.device_key = Ed25519PrivateKey.generate()
        self.board = SimulatedBoard(travel_s=0.01)
        self.options = options or AgentOptions(
            hold_s=0.3, cooldown_s=1.0, heartbeat_s=3600, frame_interval_s=0.05
        )
        self.view = DecodedMessages()
        self.hub = MqttLink(
            LinkSettings(
                host=broker.host,
                port=broker.port,
                client_id=hub_client_id or f"hub-{self.device_id}",
                clean_start=hub_client_id is None,
            )
        )
        self.hub.subscribe(f"{PREFIX}/{self.device_id}/#", self._hub_receive)
        self.hub.start()
        assert self.hub.wait_subscribed()
        self.counter = 0
        self.agent = self.new_agent()

    def _hub_receive(self, topic: str, payload: bytes, props: WireProperties) -> None:
        if topic.endswith("/cmd") or topic.endswith("/sync"):
            return
        self.view(topic, payload, props)

    def new_agent(self) -> EdgeAgent:
        return EdgeAgent(
            self.device_id,
            self.board.hardware,
            LinkSettings(host=self.broker.host, port=self.broker.port, client_id=self.device_id),
            Outbox(self.root / "outbox.sqlite"),
            self.hub_key.public_key(),
            self.device_key,
            self.options,
        )

    def start(self) -> Rig:
        self.agent.start()
        assert self.agent.link.wait_connected(5), "agent did not connect"
        return self

    def stop(self) -> None:
        self.agent.stop()
        self.hub.stop()
        self.board.close()

    # -- hub side --------------------------------------------------------------
    def command(self, cls: type = UnlockDoor, *, lifetime_s: float = 20, **overrides: Any) -> Any:
        self.counter += 1
        now = utcnow()
        clock = self.agent.clock
        fields: dict[str, Any] = {
            "device": self.device_id,
            "id": new_message_id(),
            "counter": self.counter,
            "issued_at": now,
            "expires_at": now + timedelta(seconds=lifetime_s),
            "boot_id": clock.boot_id,
            "not_after_monotonic_ms": clock.monotonic_ms() + int(lifetime_s * 1000),
            "requested_by": "person-test",
        }
        fields.update(overrides)
        return cls(**fields)

    def send(
        self, command: Any, key: Ed25519PrivateKey | None = None, device: str | None = None
    ) -> None:
        envelope = sign(command, key or self.hub_key)
        wire = encode_signed(TopicKind.COMMAND, device or self.device_id, envelope)
        self.hub.publish(wire).wait_for_publish(5)

    def send_raw(self, payload: bytes) -> None:
        wire = WireMessage(f"{PREFIX}/{self.device_id}/cmd", payload, qos=1, retain=False)
        self.hub.publish(wire).wait_for_publish(5)

    def acks(self) -> list[CommandAck]:
        return [
            open_ack(env, self.device_key.public_key(), self.device_id)
            for env in self.view.of(SignedEnvelope)
        ]

    def wait_acks(self, count: int, timeout: float = 5.0) -> list[CommandAck]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            acks = self.acks()
            if len(acks) >= count:
                return acks
            time.sleep(0.01)
        return self.acks()

    def sync(self, stored_through: int) -> None:
        wire = encode(Sync(device=self.device_id, stored_through=stored_through, at=utcnow()))
        self.hub.publish(wire).wait_for_publish(5)
