"""The AsyncAPI 3.0 document of the Doorstep protocol, built from the models and the codec.

QoS, retain flags, message expiry and content types are read off example messages
encoded by ``protocol.codec``, so the document cannot drift from what is sent.
Operations are described from the device's point of view (``send`` = device
publishes). ``protocol.spec`` writes it to ``docs/protocol/asyncapi.json``.

    >>> doc = asyncapi_document()
    >>> doc["asyncapi"], doc["channels"]["event"]["address"]
    ('3.0.0', 'doorstep/v1/{device}/event/{kind}')
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel

from .base import LATEST_SCHEMA_VERSION, ProtocolModel
from .codec import MAX_JSON_BYTES, MAX_SNAPSHOT_BYTES, WireMessage, encode, encode_signed
from .commands import MAX_COMMAND_LIFETIME_S, CommandAck
from .events import EVENT_KINDS
from .examples import example_ack, example_commands, example_key, example_messages
from .mqtt import LinkSettings
from .signing import sign
from .snapshots import SNAPSHOT_CONTENT_TYPE, SNAPSHOT_META_PROPERTY, Snapshot
from .spec import raw_schema, schema_names
from .topics import DEVICE_PUBLISHES, TopicKind, acl_pattern, parse_topic

ASYNCAPI_VERSION = "3.0.0"
MQTT_BINDING = "0.2.0"
EXAMPLE_DEVICE = "door-1a2b3c"
_REF = "#/components/schemas/{model}"


# Title and description of each channel; its id is the kind's name in lower case.
_CHANNELS: dict[TopicKind, tuple[str, str]] = {
    TopicKind.STATUS: (
        "Presence",
        "Retained. `online: true` on every connect; the same topic carries the last will "
        "`online: false`, so the broker announces a lost device.",
    ),
    TopicKind.STATE: (
        "Lock and door state",
        "Retained. The lock and door as the device sees them, after every change. Only the "
        "device says what the lock is.",
    ),
    TopicKind.EVENT: (
        "Events",
        "One topic per event kind (the last level equals the payload's `kind`). Every event "
        "carries a unique id and the device's sequence number `seq`.",
    ),
    TopicKind.SNAPSHOT: (
        "Snapshots",
        "JPEG bytes as the payload; the metadata travels as the MQTT v5 user property "
        f"`{SNAPSHOT_META_PROPERTY}`. Published before the ring event that names it.",
    ),
    TopicKind.TELEMETRY: (
        "Heartbeat",
        "Health figures at a fixed interval; a lost heartbeat is superseded by the next.",
    ),
    TopicKind.COMMAND: (
        "Commands",
        "Hub to device, signed by the hub (Ed25519), never retained, with a message expiry of "
        f"{MAX_COMMAND_LIFETIME_S} s. The device answers every command on `cmd/ack`.",
    ),
    TopicKind.ACK: (
        "Command acknowledgements",
        "Device to hub, signed by the device: one answer per command, including rejections "
        "with a reason.",
    ),
    TopicKind.SYNC: (
        "Stored-through mark",
        "Retained, hub to device: every sequence number up to `stored_through` is stored by "
        "the hub; the device may delete those from its outbox.",
    ),
    TopicKind.CHECKPOINT: (
        "Audit checkpoint",
        "Retained, hub to device: the hub's newest signed checkpoint of its audit log head, "
        "sent regularly and after every unlock so a copy is kept off the hub. A device may "
        "store the latest one; ignoring it is safe.",
    ),
}
# The parameter naming the last topic level, for kinds that have one.
_LEAF_PARAMETER = {TopicKind.EVENT: "kind", TopicKind.SNAPSHOT: "snapshot"}


@dataclass(frozen=True, slots=True)
class _Example:
    name: str
    summary: str
    wire: WireMessage
    payload: Any


def _examples() -> dict[str, list[_Example]]:
    """Example wire messages by AsyncAPI message name, from ``protocol.examples``."""
    out: dict[str, list[_Example]] = {}
    for message in example_messages(EXAMPLE_DEVICE):
        name = type(message).__name__
        out.setdefault(name, []).append(_unsigned_example(message))
    key = example_key()
    for command in example_commands(EXAMPLE_DEVICE):
        action = command.model_dump()["action"]
        out.setdefault("SignedCommand", []).append(
            _signed(TopicKind.COMMAND, f"{action}Command", f"`{action}`", command, key)
        )
    unlock_v2 = example_commands(EXAMPLE_DEVICE, v=2)[0]
    out["SignedCommand"].append(
        _signed(TopicKind.COMMAND, "unlockCommandV2", "`unlock` as v2", unlock_v2, key)
    )
    executed = example_ack(EXAMPLE_DEVICE)
    rejected = CommandAck.model_validate(
        executed.model_dump()
        | {"outcome": "rejected", "reason": "expired", "lock": "engaged", "counter": 16}
        | {"detail": "not_after_monotonic_ms has passed"}
    )
    out["SignedAck"] = [
        _signed(TopicKind.ACK, "executedAck", "An `executed` answer", executed, key),
        _signed(TopicKind.ACK, "rejectedAck", "A rejection (expired)", rejected, key),
        _signed(
            TopicKind.ACK,
            "executedAckV2",
            "The v2 answer to a v2 `unlock`, saying when the door re-locks",
            example_ack(EXAMPLE_DEVICE, v=2),
            key,
        ),
    ]
    return out


def _signed(
    kind: TopicKind, name: str, what: str, model: ProtocolModel, key: Ed25519PrivateKey
) -> _Example:
    env = sign(model, key)
    summary = f"{what}, signed with the example key of protocol/examples.py"
    wire = encode_signed(kind, EXAMPLE_DEVICE, env)
    return _Example(name, summary, wire, env.model_dump(mode="json"))


def _unsigned_example(message: BaseModel) -> _Example:
    name = type(message).__name__
    wire = encode(message)
    if isinstance(message, Snapshot):
        summary = "A 1x1 JPEG; the payload is shown base64-encoded, on the wire it is raw bytes"
        return _Example("ringSnapshot", summary, wire, base64.b64encode(wire.payload).decode())
    return _Example(
        name[0].lower() + name[1:], f"An example {name}", wire, message.model_dump(mode="json")
    )


def _components_schemas() -> dict[str, Any]:
    """Every schema once, refs pointing into ``components/schemas`` (draft-07 keywords)."""
    schemas: dict[str, Any] = {}
    for name in schema_names():
        schema = raw_schema(name, ref_template=_REF)
        for def_name, definition in {**schema.pop("$defs", {}), name: schema}.items():
            if schemas.setdefault(def_name, definition) != definition:
                raise RuntimeError(f"two different schemas are both named {def_name!r}")
    for schema in schemas.values():
        # AsyncAPI's discriminator is the property name, not OpenAPI's object.
        if isinstance(schema.get("discriminator"), dict):
            schema["discriminator"] = schema["discriminator"]["propertyName"]
    schemas["SnapshotJpeg"] = {
        "type": "string",
        "contentMediaType": SNAPSHOT_CONTENT_TYPE,
        "description": f"Raw JPEG bytes (SOI to EOI), at most {MAX_SNAPSHOT_BYTES} bytes.",
    }
    return schemas


def _message(name: str, examples: list[_Example]) -> dict[str, Any]:
    wire = examples[0].wire
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "contentType": wire.properties.content_type,
        "bindings": {
            "mqtt": {"contentType": wire.properties.content_type, "bindingVersion": MQTT_BINDING}
        },
        "examples": [
            {"name": ex.name, "summary": ex.summary, "payload": ex.payload}
            | ({"headers": dict(ex.wire.properties.user_properties)} if name == "Snapshot" else {})
            for ex in examples
        ],
    }
    if name == "Snapshot":
        message["summary"] = "A JPEG snapshot with its metadata in a user property."
        message["payload"] = {"$ref": _REF.format(model="SnapshotJpeg")}
        message["headers"] = {
            "type": "object",
            "required": [SNAPSHOT_META_PROPERTY],
            "properties": {
                SNAPSHOT_META_PROPERTY: {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "description": "MQTT v5 user property: the JSON text of a SnapshotMeta "
                    "(#/components/schemas/SnapshotMeta).",
                }
            },
        }
        return message
    limit = f" At most {MAX_JSON_BYTES} bytes of UTF-8 JSON."
    if name in ("SignedCommand", "SignedAck"):
        inner = "AnyCommand" if name == "SignedCommand" else "CommandAck"
        message["summary"] = f"A SignedEnvelope whose `payload` is the canonical JSON of {inner}."
        message["description"] = (
            "`sig` is Ed25519 over the exact UTF-8 bytes of `payload`; verify first, then "
            f"parse `payload` against {inner}. The envelope is `v: 1`; the payload is `v: 1` "
            "or `v: 2`: the hub sends v2 commands only to a device whose telemetry reports "
            "`protocol_version` 2 or more, and a device answers in its command's version." + limit
        )
        message["payload"] = {"$ref": _REF.format(model="SignedEnvelope")}
        message["x-signed-payload"] = {"$ref": _REF.format(model=inner)}
        return message
    message["summary"] = raw_schema(name).get("description", name).split("\n")[0]
    message["description"] = limit.strip()
    message["payload"] = {"$ref": _REF.format(model=name)}
    return message


def _parameters() -> dict[str, Any]:
    return {
        "device": {
            "description": "Device id = CN of the device's client certificate: 3-63 characters "
            "of a-z, 0-9 and '-', starting with a letter or digit; no MQTT wildcards.",
            "examples": [EXAMPLE_DEVICE],
        },
        "kind": {
            "description": "The event kind, equal to the payload's `kind`.",
            "enum": sorted(EVENT_KINDS),
        },
        "snapshot": {
            "description": "The snapshot id (UUID), equal to SnapshotMeta `id`.",
            "examples": ["00000000-0000-4000-8000-000000000100"],
        },
    }


def _kind_of(wire: WireMessage) -> TopicKind:
    return parse_topic(wire.topic).kind


def asyncapi_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document as plain data (serialise with ``spec.dumps``)."""
    examples = _examples()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for kind, (title, description) in _CHANNELS.items():
        key = kind.name.lower()
        names = [n for n, exs in examples.items() if _kind_of(exs[0].wire) is kind]
        address = acl_pattern(kind, "{device}")
        params = ["device"]
        if kind in _LEAF_PARAMETER:
            address = address.removesuffix("+") + "{" + _LEAF_PARAMETER[kind] + "}"
            params.append(_LEAF_PARAMETER[kind])
        channels[key] = {
            "address": address,
            "title": title,
            "description": description,
            "parameters": {p: {"$ref": f"#/components/parameters/{p}"} for p in params},
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        for n in names:
            messages[n] = _message(n, examples[n])
        wire = examples[names[0]][0].wire
        binding: dict[str, Any] = {"qos": wire.qos, "retain": wire.retain}
        if wire.properties.message_expiry_s is not None:
            binding["messageExpiryInterval"] = wire.properties.message_expiry_s
        action = "send" if kind in DEVICE_PUBLISHES else "receive"
        operations[action + key.capitalize()] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{key}"},
            "title": f"{'Publish' if action == 'send' else 'Subscribe to'} {title.lower()}",
            "messages": [{"$ref": f"#/channels/{key}/messages/{n}"} for n in names],
            "bindings": {"mqtt": binding | {"bindingVersion": MQTT_BINDING}},
        }
    operations["receiveCommand"]["reply"] = {
        "channel": {"$ref": "#/channels/ack"},
        "messages": [{"$ref": "#/channels/ack/messages/SignedAck"}],
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:doorstep:protocol:v1",
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": {"broker": _server()},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": _components_schemas(),
            "messages": messages,
            "parameters": _parameters(),
            "securitySchemes": {
                "deviceCertificate": {
                    "type": "X509",
                    "description": "Mutual TLS: every device presents its own client "
                    "certificate; its CN is the device id and the broker's ACL confines the "
                    "device to doorstep/v1/{CN}/...",
                }
            },
        },
    }


def _info() -> dict[str, Any]:
    return {
        "title": "Doorstep device protocol",
        "version": str(LATEST_SCHEMA_VERSION),
        "description": "How a doorbell / door-lock device and a Doorstep hub talk over MQTT v5. "
        "Generated from the reference models (Python package `protocol`); the prose "
        "specification is docs/protocol.md in the Doorstep repository.",
        "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
    }


def _server() -> dict[str, Any]:
    link = LinkSettings(host="", port=0, client_id="")
    will = example_messages(EXAMPLE_DEVICE)[0]
    return {
        "host": "{broker}:8883",
        "protocol": "secure-mqtt",
        "protocolVersion": "5",
        "description": "The home's or council's MQTT v5 broker, TLS with client certificates. "
        "Clients set TCP_NODELAY (as should the broker): Nagle's algorithm otherwise adds "
        "tens of milliseconds to every QoS 1 exchange.",
        "variables": {"broker": {"default": "localhost", "description": "Broker host name."}},
        "security": [{"$ref": "#/components/securitySchemes/deviceCertificate"}],
        "bindings": {
            "mqtt": {
                "cleanSession": link.clean_start,
                "keepAlive": link.keepalive_s,
                "sessionExpiryInterval": link.session_expiry_s,
                "lastWill": {
                    "topic": acl_pattern(TopicKind.STATUS, "{device}"),
                    "qos": encode(will).qos,
                    "retain": True,
                    "message": "A DeviceStatus with online: false for the current boot.",
                },
                "bindingVersion": MQTT_BINDING,
            }
        },
    }
