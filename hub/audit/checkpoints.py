"""Signed checkpoints of the audit head, and their JSON form for keeping off the hub.

A checkpoint is an Ed25519 signature (``protocol.signing``, the hub's signing key
or a dedicated audit key) over a small statement: "the entry #seq of this log has
hash H, signed at T". Copies kept elsewhere (on the door device, at telecare) let
``verify`` prove that the log was not rewritten or cut short since.

    cp = make_checkpoint(session, key, now=utcnow())
    Path("checkpoints.json").write_text(dump_checkpoints([cp.envelope]))
    open_checkpoint(cp.envelope, [key.public_key()]).seq    # 10412
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy.orm import Session

# The signed statement is part of the device protocol: devices keep copies of it.
from protocol.audit import CHECKPOINT_STATEMENT_TYPE, CheckpointStatement
from protocol.errors import SignatureInvalid
from protocol.signing import SignedEnvelope, key_id, sign, verify

from ..errors import CheckpointError
from ..storage.audit_rows import (
    add_checkpoint,
    latest_checkpoint,
    list_checkpoints,
    read_audit_head,
)

FILE_FORMAT = "doorstep-audit-checkpoints"
STATEMENT_TYPE = CHECKPOINT_STATEMENT_TYPE


@dataclass(frozen=True, slots=True)
class Checkpoint:
    statement: CheckpointStatement
    envelope: SignedEnvelope


def make_checkpoint(session: Session, key: Ed25519PrivateKey, *, now: datetime) -> Checkpoint:
    """Sign the current head and keep the checkpoint in the database."""
    seq, head_hash = read_audit_head(session)
    statement = CheckpointStatement(seq=seq, hash=head_hash, at=now)
    envelope = sign(statement, key)
    add_checkpoint(
        session,
        seq=seq,
        hash_=head_hash,
        signed_at=now,
        key_id=envelope.kid,
        envelope=envelope.model_dump_json(),
    )
    return Checkpoint(statement, envelope)


def checkpoint_if_due(
    session: Session, key: Ed25519PrivateKey, *, now: datetime, interval_s: int
) -> Checkpoint | None:
    """Make a checkpoint when the newest is ``interval_s`` old (or there is none)."""
    if not checkpoint_overdue(session, now=now, after_s=interval_s):
        return None
    return make_checkpoint(session, key, now=now)


def checkpoint_overdue(session: Session, *, now: datetime, after_s: int) -> bool:
    """True when no checkpoint was signed in the last ``after_s`` seconds."""
    latest = latest_checkpoint(session)
    return latest is None or now - latest.signed_at >= timedelta(seconds=after_s)


def stored_checkpoints(session: Session) -> list[SignedEnvelope]:
    return [SignedEnvelope.model_validate_json(r.envelope) for r in list_checkpoints(session)]


def open_checkpoint(
    envelope: SignedEnvelope, public_keys: Sequence[Ed25519PublicKey]
) -> CheckpointStatement:
    """Check the signature with whichever given key signed it; return the statement."""
    by_id = {key_id(k): k for k in public_keys}
    key = by_id.get(envelope.kid)
    if key is None:
        raise SignatureInvalid(
            f"checkpoint signed by key {envelope.kid}, which is none of the given keys "
            f"({', '.join(sorted(by_id)) or 'none given'}): pass the hub's public key"
        )
    data = verify(envelope, key)
    try:
        return CheckpointStatement.model_validate_json(data)
    except ValidationError as exc:
        raise CheckpointError(f"signed data is not an audit checkpoint: {exc}") from None


def dump_checkpoints(envelopes: Iterable[SignedEnvelope]) -> str:
    """The JSON document to send off the hub (device, telecare, a USB stick)."""
    doc = {
        "format": FILE_FORMAT,
        "v": 1,
        "checkpoints": [e.model_dump(mode="json") for e in envelopes],
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def parse_checkpoints(data: str | bytes) -> list[SignedEnvelope]:
    """Read a checkpoint document, a JSON list of envelopes, or one bare envelope."""
    try:
        doc: Any = json.loads(data)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint file is not JSON: {exc}") from None
    if isinstance(doc, dict) and doc.get("format") == FILE_FORMAT:
        items = doc.get("checkpoints", [])
    elif isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict):
        items = [doc]
    else:
        raise CheckpointError("checkpoint file must hold an object or a list of envelopes")
    try:
        return [SignedEnvelope.model_validate(item) for item in items]
    except ValidationError as exc:
        raise CheckpointError(f"checkpoint file holds a malformed envelope: {exc}") from None


def load_checkpoints(path: Path) -> list[SignedEnvelope]:
    try:
        return parse_checkpoints(Path(path).read_bytes())
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint file {path}: {exc.strerror}") from None
