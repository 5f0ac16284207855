"""Generate the published protocol documents from the models the code uses.

JSON Schemas (draft 2020-12) for every message go to ``schemas/NAME.json`` and an
AsyncAPI 3.0 document to ``asyncapi.json``; the output is byte-stable, so a test
can tell when the committed copies under ``docs/protocol/`` are stale.

    >>> files = generate()                 # {"asyncapi.json": "...", "schemas/Sync.json": ...}
    >>> write(files, Path("docs/protocol"))           # doctest: +SKIP
    >>> stale_files(Path("docs/protocol"))            # doctest: +SKIP
    []
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from .audit import AuditCheckpoint, CheckpointStatement
from .commands import (
    COMMAND_ADAPTER,
    CommandAck,
    IndoorCue,
    SetPrivacy,
    StartLiveView,
    StopLiveView,
    TakeSnapshot,
    UnlockDoor,
)
from .device import DeviceState, DeviceStatus, Sync, Telemetry
from .events import EVENT_ADAPTER, EVENT_KINDS
from .signing import SignedEnvelope
from .snapshots import SnapshotMeta

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.json"
ID_PREFIX = "urn:doorstep:protocol:v1:schema:"

# Every document-level schema, by the name of its file. Unions come last.
_SOURCES: dict[str, type[BaseModel] | TypeAdapter[Any]] = {
    "DeviceStatus": DeviceStatus,
    "DeviceState": DeviceState,
    "Telemetry": Telemetry,
    "Sync": Sync,
    "AuditCheckpoint": AuditCheckpoint,
    "CheckpointStatement": CheckpointStatement,
    **{cls.__name__: cls for cls in EVENT_KINDS.values()},
    "SnapshotMeta": SnapshotMeta,
    "SignedEnvelope": SignedEnvelope,
    **{
        c.__name__: c
        for c in (
            UnlockDoor,
            TakeSnapshot,
            StartLiveView,
            StopLiveView,
            SetPrivacy,
            IndoorCue,
        )
    },
    "CommandAck": CommandAck,
    "AnyEvent": EVENT_ADAPTER,
    "AnyCommand": COMMAND_ADAPTER,
}
_UNION_DOCS = {
    "AnyEvent": "Any device event; the `kind` property (also the topic's last level) says which.",
    "AnyCommand": "Any hub command (the signed payload of a command envelope), chosen by `action`.",
}
# Properties a receiver insists on although the models give them defaults.
_ALWAYS_REQUIRED = ("v", "kind", "action")


class _Generator(GenerateJsonSchema):
    """pydantic's generator without the per-field titles it derives from field names."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _require_tags(node: Any) -> None:
    """Mark ``v`` and the ``kind`` / ``action`` tags required, as the codec does."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            # A tag is a const; ``v`` of a kind with several versions is an enum.
            tags = [
                p
                for p in _ALWAYS_REQUIRED
                if isinstance(props.get(p), dict) and ("const" in props[p] or "enum" in props[p])
            ]
            if tags:
                node["required"] = tags + [r for r in node.get("required", []) if r not in tags]
        for value in node.values():
            _require_tags(value)
    elif isinstance(node, list):
        for value in node:
            _require_tags(value)


def raw_schema(name: str, ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """pydantic's validation-mode schema for ``name``, tags required, ``$defs`` included."""
    source = _SOURCES[name]
    if isinstance(source, TypeAdapter):
        schema = source.json_schema(schema_generator=_Generator, ref_template=ref_template)
        schema = {"title": name, "description": _UNION_DOCS[name], **schema}
    else:
        schema = source.model_json_schema(schema_generator=_Generator, ref_template=ref_template)
    _require_tags(schema)
    return schema


def json_schema(name: str) -> dict[str, Any]:
    """The standalone draft 2020-12 JSON Schema of message ``name``."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": ID_PREFIX + name,
        "$comment": "Generated from the protocol models by `doorstep protocol schemas`; "
        "do not edit by hand.",
        **raw_schema(name),
    }


def schema_names() -> list[str]:
    return list(_SOURCES)


def dumps(document: dict[str, Any]) -> str:
    """The one stable text form of every generated file."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """Every generated file, as ``{path relative to the output folder: text}``."""
    # Imported here: the AsyncAPI builder itself builds on this module's schemas.
    from .asyncapi import asyncapi_document

    files = {f"{SCHEMA_DIR}/{name}.json": dumps(json_schema(name)) for name in _SOURCES}
    files[ASYNCAPI_FILE] = dumps(asyncapi_document())
    return dict(sorted(files.items()))


def stale_files(out_dir: Path, files: dict[str, str] | None = None) -> list[str]:
    """Paths under ``out_dir`` that are missing, differ, or are no longer generated."""
    files = generate() if files is None else files
    stale = [
        rel
        for rel, text in files.items()
        if not (out_dir / rel).is_file() or (out_dir / rel).read_text(encoding="utf-8") != text
    ]
    schema_dir = out_dir / SCHEMA_DIR
    if schema_dir.is_dir():
        stale += [
            f"{SCHEMA_DIR}/{p.name}"
            for p in sorted(schema_dir.glob("*.json"))
            if f"{SCHEMA_DIR}/{p.name}" not in files
        ]
    return stale


def write(files: dict[str, str], out_dir: Path) -> list[str]:
    """Write ``files`` under ``out_dir``, drop schema files no longer generated; return changes."""
    changed = stale_files(out_dir, files)
    for rel in changed:
        path = out_dir / rel
        if rel in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[rel], encoding="utf-8")
        else:
            path.unlink()
    return changed
