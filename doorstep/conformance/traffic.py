"""The kit's MQTT side: one recording client on the device's topics, plus a takeover probe.

Everything the device publishes is kept raw (bytes, properties, retain flag and arrival
time) so the checks can judge it afterwards; nothing is decoded on paho's thread.

    >>> with Traffic(BrokerTarget("127.0.0.1", 1883), "door-1a2b3c") as traffic:  # doctest: +SKIP
    ...     traffic.publish(wire)
    ...     traffic.wait(lambda msgs: any(m.kind == "cmd/ack" for m in msgs), 5)
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from protocol.codec import WireMessage, WireProperties
from protocol.errors import InvalidTopic
from protocol.mqtt import TlsFiles, from_paho_properties, to_paho_properties
from protocol.topics import PREFIX, parse_topic

from .errors import ConformanceSetupError


@dataclass(frozen=True, slots=True)
class BrokerTarget:
    """Where the broker is and who the kit is on it (a hub-like identity under TLS)."""

    host: str
    port: int
    tls: TlsFiles | None = None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Seen:
    """One message the device (or the broker on its behalf) published."""

    topic: str
    kind: str  # the protocol topic kind ("status", "event", "cmd/ack", ...) or "?" if invalid
    payload: bytes
    properties: WireProperties
    retained: bool
    at: float  # time.monotonic() on arrival


def _nodelay(_c: Any, _u: Any, sock: Any) -> None:
    # Nagle's algorithm adds ~40-90 ms per exchange; the kit waits on many exchanges.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _client(target: BrokerTarget, client_id: str) -> paho.Client:
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
    )
    client.on_socket_open = _nodelay
    if target.tls is not None:
        client.tls_set(
            ca_certs=str(target.tls.ca),
            certfile=str(target.tls.cert),
            keyfile=str(target.tls.key),
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client


def _connect(client: paho.Client, target: BrokerTarget, timeout: float) -> None:
    """Connect and wait for the CONNACK; raise ``ConformanceSetupError`` on any refusal."""
    answered = threading.Event()
    outcome: list[str] = []

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            outcome.append(str(reason))
        answered.set()

    def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not answered.is_set():
            outcome.append(str(reason))
            answered.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    try:
        client.connect(target.host, target.port, 30, clean_start=True, properties=props)
    except (OSError, ssl.SSLError) as exc:
        raise ConformanceSetupError(
            f"cannot reach the broker at {target}: {exc}; check --broker and the TLS options"
        ) from None
    client.loop_start()
    if not answered.wait(timeout) or outcome:
        client.loop_stop()
        why = outcome[0] if outcome else f"no answer in {timeout} s"
        raise ConformanceSetupError(
            f"the broker at {target} refused the kit ({why}): the kit needs an identity "
            "that may read the device's topics and write its cmd topic (e.g. the hub's)"
        )


class Traffic:
    """A recording subscriber on ``doorstep/v1/{device}/#`` that can also publish commands."""

    def __init__(self, target: BrokerTarget, device_id: str, timeout: float = 10.0) -> None:
        self.target = target
        self.device_id = device_id
        self.timeout = timeout
        self._seen: list[Seen] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = _client(target, f"conformance-{uuid.uuid4().hex[:12]}")

    def __enter__(self) -> Traffic:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._client.reconnect_delay_set(1, 2)  # back soon after a broker restart
        _connect(self._client, self.target, self.timeout)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_a: self._subscribed.set()
        self._client.on_connect = self._on_reconnect
        self._client.subscribe(f"{PREFIX}/{self.device_id}/#", qos=1)
        if not self._subscribed.wait(self.timeout):
            self.stop()
            raise ConformanceSetupError(f"the broker at {self.target} did not answer SUBSCRIBE")

    def _on_reconnect(self, client: paho.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure and not flags.session_present:
            client.subscribe(f"{PREFIX}/{self.device_id}/#", qos=1)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def pause(self) -> None:
        """Leave the broker (the kit is about to stop it); what was seen is kept."""
        self.stop()

    def resume(self) -> None:
        """Back on the (restarted) broker as a new client, subscribed when this returns.

        A new client at once rather than paho's reconnect after its back-off: the kit
        must listen again before the device is back (brokers need not keep a session).
        """
        self._subscribed.clear()
        self._client = _client(self.target, f"conformance-{uuid.uuid4().hex[:12]}")
        self.start()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        try:
            kind = parse_topic(msg.topic).kind.value
        except InvalidTopic:
            kind = "?"
        seen = Seen(
            topic=msg.topic,
            kind=kind,
            payload=bytes(msg.payload),
            properties=from_paho_properties(getattr(msg, "properties", None)),
            retained=bool(msg.retain),
            at=time.monotonic(),
        )
        with self._cond:
            self._seen.append(seen)
            self._cond.notify_all()

    # -- reading -------------------------------------------------------------
    def snapshot(self) -> list[Seen]:
        with self._cond:
            return list(self._seen)

    def wait(self, predicate: Callable[[list[Seen]], bool], timeout: float) -> list[Seen]:
        """Wait until ``predicate`` holds for everything seen so far (or the timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: predicate(self._seen), timeout)
            return list(self._seen)

    # -- writing -------------------------------------------------------------
    def publish(self, wire: WireMessage) -> None:
        info = self._client.publish(
            wire.topic, wire.payload, wire.qos, wire.retain, to_paho_properties(wire.properties)
        )
        info.wait_for_publish(self.timeout)


def take_over(
    target: BrokerTarget, client_id: str, hold: Callable[[], None], timeout: float
) -> None:
    """Connect with another client's id (the broker drops that client), run ``hold``, leave.

    A clean start ends the old session, and MQTT v5 brokers publish the dropped
    connection's last will: the only way a black-box tester can cut a device off.
    """
    client = _client(target, client_id)
    # Never come back by ourselves: a reconnect would cut the device off a second time.
    client.reconnect_delay_set(3600, 3600)
    _connect(client, target, timeout)
    try:
        hold()
    finally:
        client.disconnect()
        client.loop_stop()


def retained_kinds(target: BrokerTarget, device_id: str, timeout: float = 1.0) -> set[str]:
    """Which of the device's status and state the broker holds as retained messages now.

    A retained message reaches an existing subscriber with the retain flag clear, so only
    a fresh subscription can tell whether the device asked the broker to keep it.
    """
    wanted = {f"{PREFIX}/{device_id}/status": "status", f"{PREFIX}/{device_id}/state": "state"}
    found: set[str] = set()
    done = threading.Condition()

    def on_message(_c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        if msg.retain and msg.topic in wanted:
            with done:
                found.add(wanted[msg.topic])
                done.notify_all()

    client = _client(target, f"conformance-{uuid.uuid4().hex[:12]}")
    _connect(client, target, timeout * 5)
    client.on_message = on_message
    try:
        client.subscribe([(topic, 1) for topic in wanted])
        with done:
            done.wait_for(lambda: len(found) == len(wanted), timeout)
            return set(found)
    finally:
        client.disconnect()
        client.loop_stop()
