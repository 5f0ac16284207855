"""The published protocol documents: fresh, well-formed, and true to the code.

* the committed copies in docs/protocol/ equal what the models generate today;
* every JSON Schema is a valid draft 2020-12 schema and accepts every example message
  exactly as ``encode`` puts it on the wire (and refuses a broken one);
* the AsyncAPI document follows the AsyncAPI 3.0 structure (checked here field by
  field: fixed fields, references, channel parameters, operations, MQTT bindings),
  and what it says about topics, QoS and retain flags is what the codec does.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from protocol import cli, spec
from protocol.codec import (
    MAX_JSON_BYTES,
    MAX_SNAPSHOT_BYTES,
    WireProperties,
    decode,
    encode,
    encode_signed,
)
from protocol.commands import MAX_COMMAND_LIFETIME_S
from protocol.examples import (
    EXAMPLE_JPEG,
    example_ack,
    example_commands,
    example_key,
    example_messages,
    example_snapshot,
)
from protocol.ids import DEVICE_ID_PATTERN
from protocol.signing import (
    MAX_SIGNED_PAYLOAD,
    key_id,
    open_ack,
    open_command,
    public_key_pem,
    sign,
)
from protocol.snapshots import Snapshot
from protocol.topics import DEVICE_PUBLISHES, HUB_PUBLISHES, TopicKind, parse_topic

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol"
DEVICE = "door-1a2b3c"


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return spec.generate()


@pytest.fixture(scope="module")
def doc(files) -> dict[str, Any]:
    return json.loads(files[spec.ASYNCAPI_FILE])


# -- freshness -----------------------------------------------------------------------------


def test_committed_copies_are_fresh(files):
    stale = spec.stale_files(DOCS, files)
    assert not stale, f"stale in {DOCS}: {stale}; regenerate with `doorstep protocol schemas`"


def test_generation_is_byte_identical_twice(files):
    assert spec.generate() == files


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="doorstep")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["protocol", *argv])
    return args.handler(args)


def test_check_names_stale_missing_and_extra_files(tmp_path, files, capsys):
    assert run_cli("schemas", "--out", str(tmp_path), "--check") == 1
    assert "schemas/Sync.json" in capsys.readouterr().err
    assert run_cli("schemas", "--out", str(tmp_path)) == 0
    assert run_cli("schemas", "--out", str(tmp_path), "--check") == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json")) == sorted(
        files
    )

    (tmp_path / "schemas" / "Sync.json").write_text("{}\n")
    (tmp_path / "schemas" / "Gone.json").write_text("{}\n")
    (tmp_path / "asyncapi.json").unlink()
    capsys.readouterr()
    assert run_cli("schemas", "--out", str(tmp_path), "--check") == 1
    err = capsys.readouterr().err
    for rel in ("schemas/Sync.json", "schemas/Gone.json", "asyncapi.json"):
        assert rel in err
    assert "schemas/DeviceState.json" not in err
    assert run_cli("schemas", "--out", str(tmp_path)) == 0
    assert not (tmp_path / "schemas" / "Gone.json").exists()
    assert spec.stale_files(tmp_path, files) == []


def test_decode_command_prints_the_message_or_the_error(tmp_path, capsys):
    wire = encode(example_messages(DEVICE)[1])
    (tmp_path / "state.json").write_bytes(wire.payload)
    assert run_cli("decode", wire.topic, str(tmp_path / "state.json")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["type"] == "DeviceState"
    assert out["message"]["lock"] == "engaged"
    other = wire.topic.replace(DEVICE, "door-9f8e7d")
    assert run_cli("decode", other, str(tmp_path / "state.json")) == 1
    assert capsys.readouterr().err.startswith("TopicMismatch: ")


def test_decode_command_opens_a_signed_command(tmp_path, capsys):
    key = example_key()
    wire = encode_signed(TopicKind.COMMAND, DEVICE, sign(example_commands(DEVICE)[0], key))
    (tmp_path / "cmd.json").write_bytes(wire.payload)
    (tmp_path / "hub.pub").write_bytes(public_key_pem(key.public_key()))
    argv = ("decode", wire.topic, str(tmp_path / "cmd.json"), "--key", str(tmp_path / "hub.pub"))
    assert run_cli(*argv) == 0
    assert json.loads(capsys.readouterr().out)["signed"]["action"] == "unlock"


# -- JSON Schemas --------------------------------------------------------------------------


def schema_validator(files: dict[str, str], name: str) -> Draft202012Validator:
    schema = json.loads(files[f"{spec.SCHEMA_DIR}/{name}.json"])
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == spec.SCHEMA_DIALECT
    return Draft202012Validator(schema)


def wire_examples() -> list[tuple[list[str], Any]]:
    """(schema names that must accept it, JSON as it travels) for every example."""
    key = example_key()
    cases: list[tuple[list[str], Any]] = []
    for message in example_messages(DEVICE):
        wire = encode(message)
        if isinstance(message, Snapshot):
            meta = json.loads(dict(wire.properties.user_properties)["doorstep-meta"])
            cases.append((["SnapshotMeta"], meta))
            continue
        names = [type(message).__name__]
        if wire.topic.split("/")[3] == "event":
            names.append("AnyEvent")
        cases.append((names, json.loads(wire.payload)))
    for command in example_commands(DEVICE):
        cases.append(
            ([type(command).__name__, "AnyCommand"], json.loads(sign(command, key).payload))
        )
        wire = encode_signed(TopicKind.COMMAND, DEVICE, sign(command, key))
        cases.append((["SignedEnvelope"], json.loads(wire.payload)))
    unlock_v2 = example_commands(DEVICE, v=2)[0]
    cases.append((["UnlockDoor", "AnyCommand"], json.loads(sign(unlock_v2, key).payload)))
    for v in (1, 2):
        cases.append((["CommandAck"], json.loads(sign(example_ack(DEVICE, v=v), key).payload)))
    return cases


CASES = wire_examples()
VERSIONED = {"CommandAck", "AnyCommand"} | {type(c).__name__ for c in example_commands(DEVICE)}


def test_v1_and_v2_acks_in_one_schema(files):
    """relock_in_s is a v2 field: the schema allows it in v2 and forbids it in v1, even null."""
    validator = schema_validator(files, "CommandAck")
    v1 = json.loads(sign(example_ack(DEVICE), example_key()).payload)
    v2 = json.loads(sign(example_ack(DEVICE, v=2), example_key()).payload)
    assert "relock_in_s" not in v1
    assert v2["v"] == 2
    assert v2["relock_in_s"] == 5.0
    assert validator.is_valid(v1)
    assert validator.is_valid(v2)
    assert validator.is_valid(v2 | {"relock_in_s": None})
    assert validator.is_valid({k: x for k, x in v2.items() if k != "relock_in_s"})
    assert not validator.is_valid(v1 | {"relock_in_s": 5.0})
    assert not validator.is_valid(v1 | {"relock_in_s": None})
    assert not validator.is_valid(v2 | {"v": 3})
    schema = json.loads(files["schemas/CommandAck.json"])
    assert schema["properties"]["v"]["enum"] == [1, 2]
    assert schema["properties"]["relock_in_s"]["x-since-v"] == 2


@pytest.mark.parametrize(("names", "instance"), CASES, ids=[c[0][0] for c in CASES])
def test_examples_validate_against_their_schema(files, names, instance):
    for name in names:
        errors = [e.message for e in schema_validator(files, name).iter_errors(instance)]
        assert not errors, f"{name}: {errors}"


@pytest.mark.parametrize(("names", "instance"), CASES, ids=[c[0][0] for c in CASES])
def test_schemas_refuse_broken_examples(files, names, instance):
    validator = schema_validator(files, names[0])
    assert not validator.is_valid(instance | {"unexpected": 1})
    assert not validator.is_valid({k: v for k, v in instance.items() if k != "v"})
    # Commands and acks exist in v1 and v2; every other kind in v1 only.
    newest = 2 if names[0] in VERSIONED else 1
    assert validator.is_valid(instance | {"v": newest})
    assert not validator.is_valid(instance | {"v": newest + 1})


def test_every_message_kind_has_a_schema(files):
    names = {p.removeprefix("schemas/").removesuffix(".json") for p in files if "/" in p}
    expected = {"DeviceStatus", "DeviceState", "Telemetry", "Sync", "SnapshotMeta"}
    expected |= {"SignedEnvelope", "CommandAck", "AnyEvent", "AnyCommand"}
    expected |= {"AuditCheckpoint", "CheckpointStatement"}
    expected |= {type(m).__name__ for m in example_commands(DEVICE)}
    expected |= {type(m).__name__ for m in example_messages(DEVICE) if "event" in encode(m).topic}
    assert names == expected


def test_event_union_needs_the_kind_tag(files):
    ring = next(i for n, i in CASES if n[0] == "DoorbellRang")
    validator = schema_validator(files, "AnyEvent")
    assert validator.is_valid(ring)
    assert not validator.is_valid({k: v for k, v in ring.items() if k != "kind"})
    assert not validator.is_valid(ring | {"kind": "door_opened"})  # door_opened has no snapshot


# -- AsyncAPI 3.0 ---------------------------------------------------------------------------

# Fixed fields of the AsyncAPI 3.0.0 objects used here (specification extensions: x-...).
FIELDS = {
    "root": {"asyncapi", "id", "info", "servers", "defaultContentType", "channels"}
    | {"operations", "components"},
    "info": {"title", "version", "description", "termsOfService", "contact", "license"}
    | {"tags", "externalDocs"},
    "server": {"host", "protocol", "protocolVersion", "pathname", "description", "title"}
    | {"summary", "variables", "security", "tags", "externalDocs", "bindings"},
    "channel": {"address", "messages", "title", "summary", "description", "servers"}
    | {"parameters", "tags", "externalDocs", "bindings"},
    "operation": {"action", "channel", "title", "summary", "description", "security", "tags"}
    | {"externalDocs", "bindings", "traits", "messages", "reply"},
    "message": {"headers", "payload", "correlationId", "contentType", "name", "title"}
    | {"summary", "description", "tags", "externalDocs", "bindings", "examples", "traits"},
    "parameter": {"enum", "default", "description", "examples", "location"},
    "example": {"headers", "payload", "name", "summary"},
    "mqtt-server": {"clientId", "cleanSession", "lastWill", "keepAlive"}
    | {"sessionExpiryInterval", "maximumPacketSize", "bindingVersion"},
    "mqtt-operation": {"qos", "retain", "messageExpiryInterval", "bindingVersion"},
    "mqtt-message": {"payloadFormatIndicator", "correlationData", "contentType"}
    | {"responseTopic", "bindingVersion"},
}
COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")


def only_fixed_fields(obj: dict[str, Any], kind: str) -> None:
    unknown = {k for k in obj if not k.startswith("x-")} - FIELDS[kind]
    assert not unknown, f"{kind} object has fields AsyncAPI 3.0 does not define: {unknown}"


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used, got {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref}: {part} is not inside an object"
        assert part in node, f"{ref} does not resolve ({part} missing)"
        node = node[part]
    if isinstance(node, dict) and set(node) == {"$ref"}:
        return resolve(doc, node["$ref"])  # e.g. a channel's message -> components
    return node


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in all_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in all_refs(v)]
    return []


def test_root_and_info(doc):
    only_fixed_fields(doc, "root")
    only_fixed_fields(doc["info"], "info")
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"]
    assert isinstance(doc["info"]["version"], str)
    assert doc["info"]["version"]
    for section in ("channels", "operations"):
        assert doc[section]
        assert all(COMPONENT_KEY.match(k) for k in doc[section])
    for section in doc["components"].values():
        assert all(COMPONENT_KEY.match(k) for k in section)


def test_every_reference_resolves(doc):
    refs = all_refs(doc)
    assert len(refs) > 50
    for ref in refs:
        resolve(doc, ref)


def test_server(doc):
    for server in doc["servers"].values():
        only_fixed_fields(server, "server")
        assert server["host"]
        assert server["protocol"] == "secure-mqtt"
        assert server["protocolVersion"] == "5"
        for name in re.findall(r"{(\w+)}", server["host"]):
            assert name in server["variables"]
        for scheme in server["security"]:
            assert resolve(doc, scheme["$ref"])["type"] == "X509"
        only_fixed_fields(server["bindings"]["mqtt"], "mqtt-server")
        will = server["bindings"]["mqtt"]["lastWill"]
        assert will["retain"] is True
        assert will["topic"] == doc["channels"]["status"]["address"]


EXAMPLE_VALUES = {
    "device": DEVICE,
    "kind": "ring",
    "snapshot": "00000000-0000-4000-8000-000000000100",
}


def test_channels_and_parameters_match_the_topic_tree(doc):
    seen = set()
    for key, channel in doc["channels"].items():
        only_fixed_fields(channel, "channel")
        assert channel["messages"]
        placeholders = re.findall(r"{(\w+)}", channel["address"])
        assert sorted(placeholders) == sorted(channel["parameters"]), key
        for ref in channel["parameters"].values():
            param = resolve(doc, ref["$ref"])
            only_fixed_fields(param, "parameter")
            assert param["description"]
        concrete = channel["address"]
        for name in placeholders:
            concrete = concrete.replace("{" + name + "}", EXAMPLE_VALUES[name])
        parsed = parse_topic(concrete)
        assert parsed.device_id == DEVICE
        seen.add(parsed.kind)
        assert key == parsed.kind.name.lower()
    assert seen == set(TopicKind)
    event_kinds = sorted(
        resolve(doc, ref["$ref"])["examples"][0]["payload"]["kind"]
        for ref in doc["channels"]["event"]["messages"].values()
    )
    assert resolve(doc, "#/components/parameters/kind")["enum"] == event_kinds


def test_operations_from_the_device_point_of_view(doc):
    kinds = {}
    for op_id, op in doc["operations"].items():
        only_fixed_fields(op, "operation")
        assert op["action"] in ("send", "receive"), op_id
        channel_ref = op["channel"]["$ref"]
        channel = resolve(doc, channel_ref)
        kind = parse_topic(channel["address"].format(**EXAMPLE_VALUES)).kind
        kinds[kind] = op["action"]
        assert op["messages"]
        for message in op["messages"]:
            # AsyncAPI 3.0: an operation's messages are messages of its own channel.
            assert message["$ref"].startswith(channel_ref + "/messages/"), op_id
        binding = op["bindings"]["mqtt"]
        only_fixed_fields(binding, "mqtt-operation")
        assert binding["qos"] in (0, 1, 2)
        assert isinstance(binding["retain"], bool)
        assert binding["bindingVersion"] == "0.2.0"
    assert {k for k, a in kinds.items() if a == "send"} == set(DEVICE_PUBLISHES)
    assert {k for k, a in kinds.items() if a == "receive"} == set(HUB_PUBLISHES)
    reply = doc["operations"]["receiveCommand"]["reply"]
    assert reply["channel"]["$ref"] == "#/channels/ack"
    assert all(m["$ref"].startswith("#/channels/ack/messages/") for m in reply["messages"])


def wire_of(topic: str, message: dict[str, Any], example: dict[str, Any]) -> Any:
    """What the codec sends for an AsyncAPI example (decoded, then encoded again)."""
    kind = parse_topic(topic).kind
    if kind is TopicKind.SNAPSHOT:
        props = WireProperties(message["contentType"], tuple(example["headers"].items()))
        payload = base64.b64decode(example["payload"])
        return encode(decode(topic, payload, props).message)
    decoded = decode(topic, json.dumps(example["payload"]).encode()).message
    if kind in (TopicKind.COMMAND, TopicKind.ACK):
        return encode_signed(kind, DEVICE, decoded)
    return encode(decoded)


def test_bindings_say_what_the_codec_does(doc):
    for op_id, op in doc["operations"].items():
        address = resolve(doc, op["channel"]["$ref"])["address"]
        binding = op["bindings"]["mqtt"]
        for ref in op["messages"]:
            message = resolve(doc, ref["$ref"])
            for example in message["examples"]:
                payload = example["payload"]
                kind = payload.get("kind", "") if isinstance(payload, dict) else ""
                topic = address.format(**EXAMPLE_VALUES | {"kind": kind})
                wire = wire_of(topic, message, example)
                assert (binding["qos"], binding["retain"]) == (wire.qos, wire.retain), op_id
                assert binding.get("messageExpiryInterval") == wire.properties.message_expiry_s
                assert message["contentType"] == wire.properties.content_type
    # The safety contract, stated outright.
    command = doc["operations"]["receiveCommand"]["bindings"]["mqtt"]
    assert command["retain"] is False
    assert 0 < command["messageExpiryInterval"] <= 30
    for op_id in ("sendStatus", "sendState", "receiveSync"):
        assert doc["operations"][op_id]["bindings"]["mqtt"]["retain"] is True


def test_messages_and_their_examples(doc):
    components = doc["components"]
    for name, message in components["messages"].items():
        only_fixed_fields(message, "message")
        only_fixed_fields(message["bindings"]["mqtt"], "mqtt-message")
        assert message["contentType"] == message["bindings"]["mqtt"]["contentType"]
        assert message["payload"]
        assert message["examples"], name
        payload_schema = {"$ref": message["payload"]["$ref"], "components": components}
        for example in message["examples"]:
            only_fixed_fields(example, "example")
            assert "payload" in example or "headers" in example
            errors = list(Draft7Validator(payload_schema).iter_errors(example["payload"]))
            assert not errors, f"{name}/{example['name']}: {errors[0].message}"
            if "headers" in example:
                assert Draft7Validator(message["headers"]).is_valid(example["headers"])


def test_component_schemas_are_draft7_schemas(doc):
    # The AsyncAPI Schema Object is a superset of JSON Schema draft 07.
    for name, schema in doc["components"]["schemas"].items():
        Draft7Validator.check_schema(schema)
        assert "$defs" not in schema, name
        assert not isinstance(schema.get("discriminator"), dict), name


def test_signed_examples_are_real_test_vectors(doc):
    public = example_key().public_key()
    messages = doc["components"]["messages"]
    topics = {
        "SignedCommand": f"doorstep/v1/{DEVICE}/cmd",
        "SignedAck": f"doorstep/v1/{DEVICE}/cmd/ack",
    }
    opened = []
    for name, topic in topics.items():
        for example in messages[name]["examples"]:
            envelope = decode(topic, json.dumps(example["payload"]).encode()).message
            opener = open_command if name == "SignedCommand" else open_ack
            opened.append(opener(envelope, public, DEVICE))
    assert opened[: len(example_commands(DEVICE))] == example_commands(DEVICE)
    assert example_ack(DEVICE) in opened


# -- docs/protocol.md ------------------------------------------------------------------------

PROSE = DOCS.parent / "protocol.md"
BLOCK = re.compile(r"^Topic: `(doorstep/[^`]+)`\n```json\n(.*?)\n```", re.MULTILINE | re.DOTALL)


def test_worked_example_in_the_prose_decodes():
    text = PROSE.read_text(encoding="utf-8")
    blocks = BLOCK.findall(text)
    assert len(blocks) >= 9, "the worked example lost its Topic: blocks"
    public = example_key().public_key()
    kinds = []
    for topic, body in blocks:
        kind = parse_topic(topic).kind
        kinds.append(kind)
        if kind is TopicKind.SNAPSHOT:
            props = WireProperties("image/jpeg", (("doorstep-meta", body),))
            assert decode(topic, EXAMPLE_JPEG, props).message.meta.sha256 in text
            continue
        message = decode(topic, body.encode()).message
        if kind is TopicKind.COMMAND:
            assert open_command(message, public, DEVICE).action == "unlock"
        elif kind is TopicKind.ACK:
            assert open_ack(message, public, DEVICE).outcome == "executed"
    assert kinds[:2] == [TopicKind.SNAPSHOT, TopicKind.EVENT]  # picture before the ring
    assert set(kinds) >= {TopicKind.COMMAND, TopicKind.ACK, TopicKind.SYNC}


def test_prose_states_the_limits_and_keys_the_code_uses():
    text = PROSE.read_text(encoding="utf-8")
    public = example_key().public_key()
    pem_body = "".join(public_key_pem(public).decode().splitlines()[1:-1])
    for fact in (
        str(MAX_JSON_BYTES),
        str(MAX_SNAPSHOT_BYTES),
        str(MAX_SIGNED_PAYLOAD),
        f"{MAX_COMMAND_LIFETIME_S} s",
        key_id(public),
        pem_body,
        DEVICE_ID_PATTERN.strip("^$"),
    ):
        assert fact in text, f"docs/protocol.md does not state {fact!r}"
    for kind in TopicKind:
        assert f"doorstep/v1/{{device}}/{kind.value}" in text, kind


def test_decode_command_names_what_a_snapshot_lacks(tmp_path, capsys):
    wire = encode(example_snapshot(DEVICE))
    (tmp_path / "frame.jpg").write_bytes(wire.payload)
    (tmp_path / "meta.json").write_text(dict(wire.properties.user_properties)["doorstep-meta"])
    assert run_cli("decode", wire.topic, str(tmp_path / "frame.jpg")) == 1
    assert "'doorstep-meta' missing" in capsys.readouterr().err
    argv = (
        "decode",
        wire.topic,
        str(tmp_path / "frame.jpg"),
        "--meta",
        str(tmp_path / "meta.json"),
    )
    assert run_cli(*argv) == 0
    meta = json.loads(capsys.readouterr().out)["message"]
    assert meta["sha256"] == hashlib.sha256(wire.payload).hexdigest()
