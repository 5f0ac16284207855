"""The Doorstep device protocol, version 1: topics, messages, codec and signing.

One definition shared by the edge agent, the hub and any other vendor's device.
The human-readable specification is ``docs/protocol.md``; the JSON Schemas and
the AsyncAPI document in ``docs/protocol/`` are generated from these models.
"""

from .audit import AuditCheckpoint, CheckpointStatement
from .base import SCHEMA_VERSION, ProtocolModel, utcnow
from .codec import Decoded, WireMessage, WireProperties, decode, encode, encode_signed
from .commands import (
    AckOutcome,
    AnyCommand,
    CommandAck,
    CueKind,
    IndoorCue,
    RejectReason,
    SetPrivacy,
    StartLiveView,
    StopLiveView,
    TakeSnapshot,
    UnlockDoor,
)
from .device import DeviceState, DeviceStatus, DoorState, LockState, Sync, Telemetry
from .errors import (
    InvalidDeviceId,
    InvalidTopic,
    KeyFileError,
    MalformedMessage,
    MessageInvalid,
    PayloadTooLarge,
    ProtocolError,
    SignatureInvalid,
    TopicMismatch,
    UnknownMessage,
    UnsupportedVersion,
)
from .events import (
    AnyEvent,
    DoorbellRang,
    DoorClosed,
    DoorOpened,
    LockCause,
    LockChanged,
    OutboxOverflowed,
    PrivacyChanged,
    TamperDetected,
    TamperReason,
)
from .ids import check_device_id, new_device_id, new_message_id
from .signing import SignedEnvelope, key_id, open_ack, open_command, sign, verify
from .snapshots import Snapshot, SnapshotMeta
from .topics import ParsedTopic, TopicKind, parse_topic, topic_for

__all__ = [
    "SCHEMA_VERSION",
    "AckOutcome",
    "AnyCommand",
    "AnyEvent",
    "AuditCheckpoint",
    "CheckpointStatement",
    "CommandAck",
    "CueKind",
    "Decoded",
    "DeviceState",
    "DeviceStatus",
    "DoorClosed",
    "DoorOpened",
    "DoorState",
    "DoorbellRang",
    "IndoorCue",
    "InvalidDeviceId",
    "InvalidTopic",
    "KeyFileError",
    "LockCause",
    "LockChanged",
    "LockState",
    "MalformedMessage",
    "MessageInvalid",
    "OutboxOverflowed",
    "ParsedTopic",
    "PayloadTooLarge",
    "PrivacyChanged",
    "ProtocolError",
    "ProtocolModel",
    "RejectReason",
    "SetPrivacy",
    "SignatureInvalid",
    "SignedEnvelope",
    "Snapshot",
    "SnapshotMeta",
    "StartLiveView",
    "StopLiveView",
    "Sync",
    "TakeSnapshot",
    "TamperDetected",
    "TamperReason",
    "Telemetry",
    "TopicKind",
    "TopicMismatch",
    "UnknownMessage",
    "UnlockDoor",
    "UnsupportedVersion",
    "WireMessage",
    "WireProperties",
    "check_device_id",
    "decode",
    "encode",
    "encode_signed",
    "key_id",
    "new_device_id",
    "new_message_id",
    "open_ack",
    "open_command",
    "parse_topic",
    "sign",
    "topic_for",
    "utcnow",
    "verify",
]
