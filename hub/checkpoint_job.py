"""The audit checkpoint job: sign the audit head regularly and send it off the hub.

Every pass, if the newest checkpoint is ``interval_s`` old, it signs a new one
(``hub.audit.make_checkpoint``) and, once that is committed, publishes it retained
to every active device as an ``AuditCheckpoint`` on ``doorstep/v1/{device}/checkpoint``:
the copy a device keeps is what lets ``doorstep audit verify`` prove later that the
log was not rewritten. (The command service also sends one after every unlock, through
``checkpoint_now``, right after the acknowledgement's transaction.)
Whether checkpoints keep coming is watched separately, by the health monitor
(``audit_checkpoint_overdue``), so a stalled or failing job is noticed.

    >>> job = CheckpointJob(db, link, audit_key, interval_s=300)   # doctest: +SKIP
    >>> job.run()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from protocol.audit import AuditCheckpoint
from protocol.base import utcnow
from protocol.codec import encode
from protocol.mqtt import MqttLink

from .audit import Checkpoint, checkpoint_if_due, make_checkpoint
from .storage.database import Database
from .storage.models_registry import Device

log = logging.getLogger(__name__)


def publish_checkpoint(
    link: MqttLink, devices: Iterable[str], checkpoint: Checkpoint, at: datetime
) -> int:
    """Send ``checkpoint`` retained to each device; returns how many were queued."""
    sent = 0
    for device in devices:
        link.publish(encode(AuditCheckpoint(device=device, checkpoint=checkpoint.envelope, at=at)))
        sent += 1
    return sent


def checkpoint_now(
    db: Database, link: MqttLink, key: Ed25519PrivateKey, devices: Iterable[str], *, at: datetime
) -> Checkpoint:
    """Sign the audit head now, in a transaction of its own, then send it to ``devices``
    (the command service's checkpoint after an unlock, made once the ack is committed)."""
    with db.session() as s:
        checkpoint = make_checkpoint(s, key, now=at)
    publish_checkpoint(link, devices, checkpoint, at)
    return checkpoint


class CheckpointJob:
    def __init__(
        self,
        db: Database,
        link: MqttLink,
        key: Ed25519PrivateKey,
        *,
        interval_s: int = 300,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.link = link
        self.key = key
        self.interval_s = interval_s
        self.clock = clock
        self.published = 0

    def run(self) -> Checkpoint | None:
        """One pass: a new checkpoint (published) if one is due, else None."""
        now = self.clock()
        with self.db.session() as s:
            checkpoint = checkpoint_if_due(s, self.key, now=now, interval_s=self.interval_s)
            devices = (
                []
                if checkpoint is None
                else list(
                    s.scalars(
                        select(Device.id).where(Device.revoked_at.is_(None)).order_by(Device.id)
                    )
                )
            )
        if checkpoint is not None:
            # Only after the commit: a device never holds a checkpoint the hub lost.
            self.published += publish_checkpoint(self.link, devices, checkpoint, now)
            log.info(
                "audit checkpoint #%d sent to %d devices", checkpoint.statement.seq, len(devices)
            )
        return checkpoint
