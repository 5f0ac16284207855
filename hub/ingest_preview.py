"""Ring previews: a ring reaches people's screens before its batch is stored.

The batch's writes (about twenty statements, the picture file, the commit's flush) are
what the family would otherwise wait for. Nothing can be lost by not waiting: the door
forgets the ring only on its sync mark, and that still waits for the commit (a batch
that fails is retried until it is stored). So a ring is previewed only when it is
certain to be stored as a new ring:

- its message decodes like any other (the same codec, the same checks);
- its door is registered, not revoked, and placed in a home (the home decides who sees it);
- the hub does not already hold that ring (a door resends after a reconnect: no preview).

The preview is the notice kind ``ring_preview`` with the same data as the ring notice
(and the picture, when it came in the same batch). Only the live stream reads it, and
the page shows whichever of the two comes first, once. Everything else acts on the
stored ``ring`` notice that still follows (push notifications, escalation, the health
monitor's unanswered-ring timer, Home Assistant): routing a push writes to the
database, and doing that while ingest stores the same ring slowed both.

    previews, decoded = preview_rings(db, items)     # before storing the batch
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from protocol.codec import Decoded, WireProperties, decode
from protocol.errors import ProtocolError
from protocol.events import DoorbellRang
from protocol.snapshots import Snapshot
from protocol.topics import TopicKind, parse_topic

from .bus import RING_PREVIEW, Notice
from .storage.database import Database
from .storage.models_events import Event
from .storage.models_registry import Device

log = logging.getLogger(__name__)


class Item(Protocol):
    topic: str
    payload: bytes
    props: WireProperties
    at: datetime


def preview_rings(db: Database, items: Sequence[Item]) -> tuple[list[Notice], dict[int, Decoded]]:
    """The previews of the new rings in ``items``, and what was decoded to find them
    (by position in ``items``, so storing the batch need not decode them again)."""
    decoded: dict[int, Decoded] = {}
    rings: list[tuple[Item, DoorbellRang]] = []
    pictures: dict[str, bytes] = {}
    for i, item in enumerate(items):
        if not _ring_or_snapshot(item.topic):
            continue
        try:
            decoded[i] = found = decode(item.topic, item.payload, item.props)
        except ProtocolError:
            continue  # storing the batch says what is wrong with it
        if isinstance(found.message, DoorbellRang):
            rings.append((item, found.message))
        elif isinstance(found.message, Snapshot) and found.message.meta.reason == "ring":
            pictures[found.message.meta.id] = found.message.jpeg
    if not rings:
        return [], decoded
    try:
        homes = _new_rings_homes(db, [ring for _, ring in rings])
    except Exception:  # the stored ring notice still comes: a preview is only sooner
        log.exception("ring preview skipped")
        return [], decoded
    previews = []
    for item, ring in rings:
        home = homes.get(ring.id)
        if home is None:
            continue
        data: dict[str, object] = {
            "event_id": ring.id,
            "snapshot_id": ring.snapshot_id,
            "at": ring.at.isoformat(),
            "seq": ring.seq,
        }
        jpeg = pictures.get(ring.snapshot_id) if ring.snapshot_id else None
        if jpeg is not None:
            data["jpeg"] = jpeg
        previews.append(Notice(RING_PREVIEW, ring.device, data, home, item.at))
    return previews, decoded


def _new_rings_homes(db: Database, rings: list[DoorbellRang]) -> dict[str, str]:
    """event id -> home, for the rings the hub does not hold yet whose door is active
    and in a home."""
    devices = {r.device for r in rings}
    with db.read_session() as s:
        placed = {
            device: home
            for device, home in s.execute(
                select(Device.id, Device.home_id).where(
                    Device.id.in_(devices), Device.revoked_at.is_(None), Device.home_id.is_not(None)
                )
            )
        }
        held = set(
            s.scalars(select(Event.event_id).where(Event.event_id.in_([r.id for r in rings])))
        )
    return {r.id: placed[r.device] for r in rings if r.device in placed and r.id not in held}


def _ring_or_snapshot(topic: str) -> bool:
    try:
        parsed = parse_topic(topic)
    except ProtocolError:
        return False  # storing the batch says what is wrong with it
    return parsed.kind is TopicKind.SNAPSHOT or (
        parsed.kind is TopicKind.EVENT and parsed.leaf == "ring"
    )
