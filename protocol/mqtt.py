"""A thin MQTT v5 link over paho-mqtt, shared by the edge agent and the hub.

It only moves bytes: publish a ``WireMessage``, hand received messages to a
handler, resubscribe after every reconnect. Callbacks run on paho's network
thread, so handlers must enqueue and return.

    >>> link = MqttLink(LinkSettings(host="127.0.0.1", port=1883, client_id="x"))
    >>> link.subscribe("doorstep/v1/+/event/+", handler)   # doctest: +SKIP
    >>> link.start(); link.publish(encode(event))          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from .codec import WireMessage, WireProperties
from .errors import ProtocolError

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes, WireProperties], None]


class LinkError(ProtocolError, ConnectionError):
    """The broker could not be reached, or refused us."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Mutual TLS: the CA that signed the broker, and our own certificate and key."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class LinkSettings:
    host: str
    port: int
    client_id: str
    tls: TlsFiles | None = None
    keepalive_s: int = 30
    # A persistent session keeps QoS 1 messages queued in the broker while we are away.
    clean_start: bool = False
    session_expiry_s: int = 7 * 24 * 3600
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30
    max_inflight: int = 100
    will: WireMessage | None = None
    tls_server_name: str | None = field(default=None)


def to_paho_properties(props: WireProperties, packet: int = PacketTypes.PUBLISH) -> Properties:
    out = Properties(packet)
    out.ContentType = props.content_type
    if props.user_properties:
        out.UserProperty = list(props.user_properties)
    if props.message_expiry_s is not None:
        out.MessageExpiryInterval = props.message_expiry_s
    return out


def from_paho_properties(props: Properties | None) -> WireProperties:
    if props is None:
        return WireProperties(content_type="")
    return WireProperties(
        content_type=getattr(props, "ContentType", ""),
        user_properties=tuple(tuple(p) for p in getattr(props, "UserProperty", [])),
        message_expiry_s=getattr(props, "MessageExpiryInterval", None),
    )


def _nodelay(_client: Any, _userdata: Any, sock: Any) -> None:
    # Nagle's algorithm costs ~40-90 ms per QoS 1 round trip on loopback.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttLink:
    """One MQTT v5 connection. Not a paho subclass: paho stays an implementation detail."""

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self._subs: dict[str, tuple[int, Handler]] = {}
        self._connected = threading.Event()
        self._first_result: threading.Event = threading.Event()
        self._refusal: str | None = None
        self.on_connected: Callable[[], None] | None = None
        self.on_disconnected: Callable[[str], None] | None = None
        self._attempt = 0
        self._rng = random.Random()
        self._pending_subs: set[int] = set()
        self._early_subacks: set[int] = set()  # answered before _track saw their mid
        self._subs_done = threading.Condition()
        self._client = self._make_client()

    def _make_client(self) -> paho.Client:
        s = self.settings
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=paho.MQTTv5,
        )
        client.on_socket_open = _nodelay
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.max_inflight_messages_set(s.max_inflight)
        client.on_connect_fail = self._on_connect_fail
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_min_s)
        if s.tls is not None:
            client.tls_set(
                ca_certs=str(s.tls.ca),
                certfile=str(s.tls.cert),
                keyfile=str(s.tls.key),
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        if s.will is not None:
            w = s.will
            client.will_set(
                w.topic,
                w.payload,
                w.qos,
                w.retain,
                to_paho_properties(w.properties, PacketTypes.WILLMESSAGE),
            )
        return client

    # -- lifecycle ---------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Connect and start the network thread; raise ``LinkError`` if refused or unreachable."""
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        try:
            self._client.connect(
                s.host, s.port, s.keepalive_s, clean_start=s.clean_start, properties=props
            )
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"cannot reach MQTT broker at {s.host}:{s.port}: {exc}") from None
        self._client.loop_start()
        if not self._first_result.wait(timeout):
            self.stop()
            raise LinkError(f"no answer from MQTT broker at {s.host}:{s.port} in {timeout} s")
        if self._refusal is not None:
            self.stop()
            raise LinkError(f"MQTT broker at {s.host}:{s.port} refused us: {self._refusal}")

    def start_background(self) -> None:
        """Keep trying to connect in the background (for devices that boot before the network)."""
        s = self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        self._client.connect_async(
            s.host, s.port, s.keepalive_s, clean_start=s.clean_start, properties=props
        )
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- traffic -----------------------------------------------------------
    def publish(self, wire: WireMessage) -> paho.MQTTMessageInfo:
        return self._client.publish(
            wire.topic, wire.payload, wire.qos, wire.retain, to_paho_properties(wire.properties)
        )

    def subscribe(self, filter_: str, handler: Handler, qos: int = 1) -> None:
        """Subscribe now if connected, and again after every reconnect."""
        self._subs[filter_] = (qos, handler)
        # Messages from a shared subscription carry their real topic, so match on the
        # filter without its "$share/<group>/" prefix.
        match = filter_.split("/", 2)[2] if filter_.startswith("$share/") else filter_
        self._client.message_callback_add(match, self._dispatch(handler))
        if self.connected:
            self._track(self._client.subscribe(filter_, options=SubscribeOptions(qos=qos)))

    @staticmethod
    def _dispatch(handler: Handler) -> Callable[[paho.Client, Any, paho.MQTTMessage], None]:
        def call(_c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
            props = from_paho_properties(getattr(msg, "properties", None))
            try:
                handler(msg.topic, msg.payload, props)
            except Exception:  # a bad handler must never kill the network thread
                log.exception("handler for %s failed", msg.topic)

        return call

    def _next_reconnect_delay(self) -> None:
        """Exponential backoff with jitter, so a fleet does not reconnect in lock-step.

        paho doubles its own delay but adds no jitter: we set min == max to the
        delay we want before each attempt ("equal jitter": half fixed, half random).
        """
        s = self.settings
        ceiling = min(s.reconnect_max_s, s.reconnect_min_s * 2**self._attempt)
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        self._attempt = min(self._attempt + 1, 30)
        self._client.reconnect_delay_set(delay, delay)  # type: ignore[arg-type]

    # -- paho callbacks (network thread: no real work here) ---------------
    def _on_connect(
        self, client: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self._refusal = str(reason)
            self._first_result.set()
            log.warning("MQTT connection refused: %s", reason)
            return
        self._attempt = 0
        self._next_reconnect_delay()
        for filter_, (qos, _h) in self._subs.items():
            self._track(client.subscribe(filter_, options=SubscribeOptions(qos=qos)))
        self._connected.set()
        self._first_result.set()
        if self.on_connected:
            self.on_connected()

    def _track(self, result: tuple[Any, int | None]) -> None:
        _rc, mid = result
        if mid is not None:
            with self._subs_done:
                # The SUBACK can beat us here when subscribe() ran on another thread.
                if mid in self._early_subacks:
                    self._early_subacks.discard(mid)
                else:
                    self._pending_subs.add(mid)

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, _codes: Any, _p: Any) -> None:
        with self._subs_done:
            if mid in self._pending_subs:
                self._pending_subs.discard(mid)
            else:
                self._early_subacks.add(mid)
            self._subs_done.notify_all()

    def wait_subscribed(self, timeout: float = 5.0) -> bool:
        """True once the broker has answered every subscription sent so far."""
        with self._subs_done:
            return self._subs_done.wait_for(lambda: not self._pending_subs, timeout)

    def _on_connect_fail(self, _c: paho.Client, _u: Any) -> None:
        self._next_reconnect_delay()

    def _on_disconnect(
        self, _c: paho.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        if not self._first_result.is_set():
            # Refused during the TLS handshake (e.g. a revoked certificate): say so now
            # rather than after start()'s whole timeout.
            self._refusal = str(reason)
            self._first_result.set()
        self._next_reconnect_delay()
        if self.on_disconnected:
            self.on_disconnected(str(reason))

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        log.debug("message on %s matched no handler", msg.topic)
