"""Audit checkpoints sent off the hub: the hub's signed statement of its audit log head.

The hub signs a ``CheckpointStatement`` ("entry #seq of my audit log has hash H,
at time T") with its Ed25519 key and publishes it, retained, to every device as an
``AuditCheckpoint``. A copy kept away from the hub proves later that the log was
not rewritten or cut short since; a device only stores the newest one it got.

    stmt = CheckpointStatement(seq=10412, hash=head_hash, at=utcnow())
    wire = encode(AuditCheckpoint(device="door-1a2b3c", checkpoint=sign(stmt, key), at=utcnow()))
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, NonNegativeInt

from .base import DeviceIdField, ProtocolModel, Timestamp
from .signing import SignedEnvelope

CHECKPOINT_STATEMENT_TYPE = "doorstep.audit.checkpoint"


class CheckpointStatement(ProtocolModel):
    """What a checkpoint signs. ``type`` keeps it from ever being read as a command."""

    type: Literal["doorstep.audit.checkpoint"] = CHECKPOINT_STATEMENT_TYPE
    seq: NonNegativeInt = Field(description="The newest audit entry covered (0: empty log).")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="That entry's SHA-256 chain hash.")
    at: AwareDatetime = Field(description="Hub time of signing.")


class AuditCheckpoint(ProtocolModel):
    """Retained, hub -> device: the newest signed checkpoint of the hub's audit log.

    A device keeps the latest one it receives (it need not verify it; whoever later
    checks the hub's log does). Receiving none, or an invalid one, changes nothing
    about how the device works.
    """

    device: DeviceIdField
    checkpoint: SignedEnvelope = Field(
        description="The hub's Ed25519 signature over a CheckpointStatement (its canonical "
        "JSON is the envelope's payload)."
    )
    at: Timestamp = Field(description="Hub time when this was published.")
