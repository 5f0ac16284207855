"""A small stand-in for another vendor's door device, speaking the protocol with paho,
with faults that can be switched on to see the conformance kit catch them.

    >>> with FakeDevice(broker.host, broker.port, hub_pub, Faults(accept_replays=True)) as dev:
    ...     report = run(KitOptions(target, dev.device_id, hub_key, dev.public_key))

With no faults it conforms; each fault breaks exactly one rule of docs/protocol.md.
``speaks=1`` makes it a device of schema version 1 only (it refuses v2 commands as
``unsupported``), which conforms too.
"""

from __future__ import annotations

import hashlib
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from protocol import (
    AckOutcome,
    CommandAck,
    DeviceState,
    DeviceStatus,
    DoorbellRang,
    DoorState,
    LockState,
    RejectReason,
    Snapshot,
    SnapshotMeta,
    Sync,
    Telemetry,
    TopicKind,
    encode,
    encode_signed,
    new_device_id,
    new_message_id,
    open_command,
    sign,
    utcnow,
)
from protocol.codec import WireMessage
from protocol.commands import COMMAND_ADAPTER
from protocol.errors import MessageInvalid, SignatureInvalid, TopicMismatch
from protocol.examples import EXAMPLE_JPEG
from protocol.mqtt import to_paho_properties
from protocol.signing import SignedEnvelope
from protocol.topics import device_filter, topic_for


@dataclass(frozen=True)
class Faults:
    accept_replays: bool = False  # no counter or id check
    skip_seq: bool = False  # seq goes 1, 3, 5, ...
    unsigned_acks: bool = False  # acks as bare JSON, not in a signed envelope
    oversized_snapshot: bool = False  # a JPEG over the 1 MiB limit
    no_will: bool = False  # no last will registered
    null_wrong_device_id: bool = False  # a misaddressed command answered with command_id null
    drop_offline: bool = False  # events made while disconnected are never sent (seq gap)
    acks_in_v1: bool = False  # answers v2 commands in v1
    acks_in_v2: bool = False  # answers v1 commands in v2 (a v1 hub refuses those answers)
    claims: str | None = None  # protocol_version to report in telemetry (after each command)


def _readable(payload: bytes) -> Any:
    return COMMAND_ADAPTER.validate_json(SignedEnvelope.model_validate_json(payload).payload)


def _oversized_jpeg() -> bytes:
    # A complete JPEG (SOI ... EOI) padded with a comment-like filler past 1 MiB.
    return EXAMPLE_JPEG[:-2] + b"\x00" * (1024 * 1024 + 4096) + b"\xff\xd9"


class FakeDevice:
    def __init__(
        self,
        host: str,
        port: int,
        hub_key: Ed25519PublicKey,
        faults: Faults | None = None,
        *,
        speaks: int = 2,
    ) -> None:
        self.device_id = new_device_id()
        self.faults = faults or Faults()
        self.speaks = speaks  # highest schema version of commands it reads
        self.hub_key = hub_key
        self.key = Ed25519PrivateKey.generate()
        self.boot_id = secrets.token_hex(8)
        self._start = time.monotonic()
        self.seq = 0
        self.counter = 0
        self.seen_ids: set[str] = set()
        # The outbox: (seq, message) until a sync confirms it; sent again on every connect.
        self.outbox: list[tuple[int, WireMessage]] = []
        self._out_lock = threading.Lock()
        self.online = False
        self._jobs: queue.Queue[bytes | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._connected = threading.Event()
        self.host, self.port = host, port
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.device_id,
            protocol=paho.MQTTv5,
        )
        self.client.reconnect_delay_set(0.2, 0.5)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        if not self.faults.no_will:
            will = encode(self._status(online=False))
            props = to_paho_properties(will.properties, PacketTypes.WILLMESSAGE)
            self.client.will_set(will.topic, will.payload, 1, True, props)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    def monotonic_ms(self) -> int:
        return int((time.monotonic() - self._start) * 1000)

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> FakeDevice:
        self._worker.start()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(self.host, self.port, 30, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._connected.wait(5), "fake device could not connect"
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._jobs.put(None)
        self._worker.join(5)

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            return
        client.subscribe(device_filter(TopicKind.COMMAND, self.device_id), qos=1)
        client.subscribe(topic_for(TopicKind.SYNC, self.device_id), qos=1)
        self._publish(encode(self._status(online=True)))
        self._publish(encode(self._state()))
        with self._out_lock:
            self.online = True
            for _seq, wire in self.outbox:
                self._publish(wire)
        self._connected.set()

    def _on_disconnect(self, *_a: Any) -> None:
        with self._out_lock:
            self.online = False

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        if msg.topic.endswith("/sync"):
            stored = Sync.model_validate_json(msg.payload).stored_through
            with self._out_lock:
                self.outbox = [(seq, w) for seq, w in self.outbox if seq > stored]
            return
        self._jobs.put(bytes(msg.payload))

    def _send(self, seq: int, wire: WireMessage) -> None:
        """Keep it until a sync confirms it; publish now if connected."""
        with self._out_lock:
            if not self.online and self.faults.drop_offline:
                return  # the fault: the seq is spent, the event is gone
            self.outbox.append((seq, wire))
            if self.online:
                self._publish(wire)

    def ring(self) -> None:
        """Someone presses the bell: a ring event through the outbox."""
        seq = self._next_seq()
        event = DoorbellRang(
            device=self.device_id,
            id=new_message_id(),
            seq=seq,
            boot_id=self.boot_id,
            at=utcnow(),
            monotonic_ms=self.monotonic_ms(),
        )
        self._send(seq, encode(event))

    def _publish(self, wire: WireMessage) -> None:
        self.client.publish(
            wire.topic, wire.payload, wire.qos, wire.retain, to_paho_properties(wire.properties)
        )

    # -- messages ------------------------------------------------------------
    def _status(self, online: bool) -> DeviceStatus:
        return DeviceStatus(
            device=self.device_id,
            online=online,
            boot_id=self.boot_id,
            since=utcnow(),
            monotonic_ms=self.monotonic_ms(),
        )

    def _state(self) -> DeviceState:
        return DeviceState(
            device=self.device_id,
            lock=LockState.ENGAGED,
            door=DoorState.CLOSED,
            boot_id=self.boot_id,
            at=utcnow(),
            seq=self.seq,
        )

    def _next_seq(self) -> int:
        self.seq += 2 if self.faults.skip_seq else 1
        return self.seq

    def _snapshot(self, command_id: str) -> None:
        jpeg = _oversized_jpeg() if self.faults.oversized_snapshot else EXAMPLE_JPEG
        seq = self._next_seq()
        meta = SnapshotMeta(
            device=self.device_id,
            id=new_message_id(),
            seq=seq,
            boot_id=self.boot_id,
            at=utcnow(),
            monotonic_ms=self.monotonic_ms(),
            reason="request",
            command_id=command_id,
            width=1,
            height=1,
            size_bytes=len(jpeg),
            sha256=hashlib.sha256(jpeg).hexdigest(),
        )
        self._send(seq, encode(Snapshot(meta=meta, jpeg=jpeg)))

    def _telemetry(self) -> Telemetry:
        return Telemetry(
            device=self.device_id,
            boot_id=self.boot_id,
            at=utcnow(),
            monotonic_ms=self.monotonic_ms(),
            clock_synced=True,
            uptime_s=self.monotonic_ms() // 1000,
            software_version="fake-1",
            protocol_version=self.faults.claims or str(self.speaks),
            outbox_depth=len(self.outbox),
            command_counter=self.counter,
        )

    def _ack_version(self, command: Any) -> int:
        if self.faults.acks_in_v1:
            return 1
        if self.faults.acks_in_v2:
            return 2
        return 1 if command is None else int(command.v)  # the command's, if it could read it

    def _ack(self, command: Any, reason: RejectReason | None, detail: str = "") -> None:
        ack = CommandAck(
            v=self._ack_version(command),
            device=self.device_id,
            command_id=command.id if command is not None else None,
            action=command.action if command is not None else None,
            outcome=AckOutcome.EXECUTED if reason is None else AckOutcome.REJECTED,
            reason=reason,
            detail=detail,
            lock=LockState.ENGAGED,
            counter=self.counter,
            boot_id=self.boot_id,
            at=utcnow(),
            monotonic_ms=self.monotonic_ms(),
        )
        if self.faults.unsigned_acks:
            topic = topic_for(TopicKind.ACK, self.device_id)
            self._publish(WireMessage(topic, ack.model_dump_json().encode(), 1, False))
            return
        self._publish(encode_signed(TopicKind.ACK, self.device_id, sign(ack, self.key)))

    # -- commands (one worker thread; paho's callback only enqueues) ----------------
    def _work(self) -> None:
        while (payload := self._jobs.get()) is not None:
            self._handle(payload)

    def _handle(self, payload: bytes) -> None:
        self._answer(payload)
        if self.faults.claims is not None:
            self._publish(encode(self._telemetry()))

    def _answer(self, payload: bytes) -> None:
        try:
            command = open_command(
                SignedEnvelope.model_validate_json(payload), self.hub_key, self.device_id
            )
        except SignatureInvalid as exc:
            pinned = "pinned key" in str(exc)
            self._ack(None, RejectReason.UNKNOWN_KEY if pinned else RejectReason.BAD_SIGNATURE)
            return
        except TopicMismatch:
            # signed and readable: name it (unless the fault says otherwise)
            other = None if self.faults.null_wrong_device_id else _readable(payload)
            self._ack(other, RejectReason.WRONG_DEVICE)
            return
        except (MessageInvalid, ValidationError):
            self._ack(None, RejectReason.MALFORMED)
            return
        if command.v > self.speaks:
            # A v1-only device cannot read a v2 command: it answers in v1, naming no id.
            self._ack(None, RejectReason.UNSUPPORTED, f"schema version v={command.v}")
            return
        reason = self._refusal(command)
        if reason is not None:
            self._ack(command, reason)
            return
        self.counter = max(self.counter, command.counter)
        self.seen_ids.add(command.id)
        if command.action == "snapshot":
            self._snapshot(command.id)
        self._ack(command, None)

    def _refusal(self, command: Any) -> RejectReason | None:
        if command.boot_id != self.boot_id:
            return RejectReason.STALE_BOOT
        now = self.monotonic_ms()
        if not now <= command.not_after_monotonic_ms <= now + 35_000:
            return RejectReason.EXPIRED
        if self.faults.accept_replays:
            return None
        if command.counter <= self.counter:
            return RejectReason.COUNTER_REPLAYED
        if command.id in self.seen_ids:
            return RejectReason.DUPLICATE_ID
        return None
