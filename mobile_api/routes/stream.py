"""Live notices (Server-Sent Events) for the homes a person may see, filtered by right.

A telecare officer gets health and alert notices, and rings without their snapshot
id unless a grant allows snapshots. The hub's bus is thread-based: each stream
waits on it in a worker thread of its own limiter, so the event loop never blocks.
A ring carries its picture as a data: URL ("picture") for people who see snapshots
by their role, so the ring card needs no second request; people who see them only by
a grant get the snapshot id, and each viewing goes through the audited fetch.

Rings and "ready" carry an id: the hub's receive time in microseconds. A reconnecting
EventSource sends the last one back (``Last-Event-ID``) and first gets the rings the
hub stored meanwhile (at most ``MISSED_RING_WINDOW`` old), so a phone that lost its
network at the moment of a ring still shows it. The notices themselves have no
history; the stored rings are the record.

    GET /api/stream        (EventSource reconnects by itself; "retry" is sent)
"""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from hub.bus import RING_PREVIEW, Notice, Subscription
from hub.errors import NotFound
from hub.handlers import ring_notice_data
from hub.policy import Permission, by_grant, permissions
from hub.storage import list_devices, memberships_of
from hub.storage.devices import get_device
from hub.storage.events import rings_received_after
from hub.visits import expected_at
from protocol.base import utcnow

from ..deps import CurrentPerson, HubDep, SettingsDep
from .visits import expected_json

router = APIRouter(prefix="/api", tags=["stream"])

# Rings older than this are history, not someone at the door: not replayed.
MISSED_RING_WINDOW = timedelta(minutes=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
Message = tuple[str, str, str | None]  # event, data, id


def event_id_of(at: datetime) -> str:
    """An SSE id from a hub time: whole microseconds since the epoch (exact both ways)."""
    return str((at - _EPOCH) // _US)


def replay_from(last_event_id: str | None, now: datetime) -> datetime | None:
    """Where a reconnecting stream's missed rings start; None: nothing to replay."""
    try:
        at = _EPOCH + int(last_event_id or "") * _US
    except (ValueError, OverflowError):
        return None  # a first connection, or not an id of ours
    if at > now + timedelta(minutes=1):
        return None
    return max(at, now - MISSED_RING_WINDOW)


# Which right a notice needs; kinds not listed are never streamed (secure by default).
NEEDS: dict[str, Permission] = {
    "ring": Permission.VIEW_HEALTH,
    RING_PREVIEW: Permission.VIEW_HEALTH,  # the same ring, before it is stored
    "snapshot": Permission.VIEW_SNAPSHOTS,
    "command": Permission.VIEW_EVENTS,
    "state": Permission.VIEW_HEALTH,
    "lock": Permission.VIEW_HEALTH,
    "door": Permission.VIEW_HEALTH,
    "presence": Permission.VIEW_HEALTH,
    "health": Permission.VIEW_HEALTH,
    "alert": Permission.VIEW_HEALTH,
    "privacy": Permission.VIEW_HEALTH,
    "gap": Permission.VIEW_HEALTH,
    "outbox_overflow": Permission.VIEW_HEALTH,
    "check_in": Permission.VIEW_EVENTS,
    "escalation": Permission.VIEW_EVENTS,  # ids only; names come from the API
}


def visible(
    notice: Notice,
    home: str | None,
    rights: dict[str, set[Permission]],
    inline: frozenset[str] = frozenset(),
) -> dict | None:
    """The notice's data as this person may see it, or None.

    A ring's picture ("jpeg" on the notice) goes along as a data: URL ("picture") only
    to homes in ``inline``: where the person sees snapshots by their role. Whoever sees
    them by a grant gets the snapshot id only, so each viewing goes through the audited
    ``GET /api/snapshots/{id}``.
    """
    need = NEEDS.get(notice.kind)
    allowed = rights.get(home or "", set())
    if need is None or need not in allowed:
        return None
    data: dict[str, Any] = dict(notice.data)
    jpeg = data.pop("jpeg", None)
    if Permission.VIEW_SNAPSHOTS not in allowed:
        data.pop("snapshot_id", None)
    elif isinstance(jpeg, bytes) and (home or "") in inline:
        data["picture"] = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
    return data


@router.get("/stream", response_class=EventSourceResponse)
async def stream(
    request: Request,
    person: CurrentPerson,
    hub: HubDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=40)] = None,
) -> AsyncIterator[ServerSentEvent]:
    def load_rights() -> tuple[dict[str, set[Permission]], frozenset[str]]:
        with hub.db.read_session() as s:
            homes = {m.home_id for m in memberships_of(s, person)}
            rights = {h: permissions(s, person, h) for h in homes}
            inline = frozenset(
                h
                for h, allowed in rights.items()
                if Permission.VIEW_SNAPSHOTS in allowed
                and not by_grant(s, person, h, Permission.VIEW_SNAPSHOTS)
            )
            return rights, inline

    def home_of(device_id: str) -> str | None:
        with hub.db.read_session() as s:
            try:
                return get_device(s, device_id).home_id
            except NotFound:
                return None

    def expected_now(home: str, notice: Notice) -> list[dict[str, Any]]:
        # Who is expected at the moment of the ring: one read per ring, only for
        # people who may see visits (carers' names are personal data).
        with hub.db.read_session() as s:
            return expected_json(expected_at(s, home, notice.at))

    def missed_rings(after: datetime | None) -> list[Message]:
        """The rings stored since ``after`` in the homes this person may see."""
        if after is None:
            return []
        with hub.db.read_session() as s:
            home_of_device = {
                d.id: home
                for home, allowed in rights.items()
                if Permission.VIEW_HEALTH in allowed
                for d in list_devices(s, home_id=home)
            }
            rings = rings_received_after(s, home_of_device, after)
        out = []
        for e in rings:
            data = ring_notice_data(e.event_id, e.payload.get("snapshot_id"), e.device_time, e.seq)
            notice = Notice("ring", e.device_id, data, home_of_device[e.device_id], e.received_at)
            message = as_message(notice)
            if message is not None:
                out.append(message)
        return out

    def next_messages(sub: Subscription) -> list[Message]:
        """(event, data) of the next notices this person may see; [] after a quiet poll.

        Runs whole in one worker thread: waiting, the reads a notice needs and the JSON,
        for the first notice and whatever came with it (a batch's state, lock and
        command notices), so a burst costs one hop to and from the event loop.
        """
        out: list[Message] = []
        notice = sub.get(settings.stream_poll_s)
        while notice is not None and len(out) < 50:
            message = as_message(notice)
            if message is not None:
                out.append(message)
            notice = sub.get(0)
        return out

    def as_message(notice: Notice) -> Message | None:
        # A ring's preview or the stored ring, whichever comes first: the page gets one.
        kind = "ring" if notice.kind == RING_PREVIEW else notice.kind
        ring_id = notice.data.get("event_id") if kind == "ring" else None
        if ring_id is not None and ring_id in rings_sent:
            return None
        home = notice.home_id
        if home is None:
            if notice.device_id not in homes:
                homes[notice.device_id] = home_of(notice.device_id)
            home = homes[notice.device_id]
        data = visible(notice, home, rights, inline)
        if data is None:
            return None
        if notice.kind == RING_PREVIEW and data.get("snapshot_id") and "picture" not in data:
            return None  # its picture would be fetched by id before it is stored
        if ring_id is not None:
            rings_sent.append(ring_id)
        if (
            kind == "ring"
            and home is not None
            and Permission.VIEW_EVENTS in rights.get(home, set())
        ):
            data["expected"] = expected_now(home, notice)
        payload = {
            "device": notice.device_id or None,
            "home": home,
            "at": notice.at.isoformat(),
            **data,
        }
        return kind, json.dumps(payload, default=str), event_id_of(notice.at) if ring_id else None

    rights, inline = await anyio.to_thread.run_sync(load_rights)
    limiter: anyio.CapacityLimiter = request.app.state.stream_limiter
    sub = hub.bus.subscribe()
    homes: dict[str, str | None] = {}
    rings_sent: deque[object] = deque(maxlen=64)
    last_sent = ""  # ids only grow: the one the browser sends back covers all it saw

    def sent(event: str, data: str, event_id: str | None) -> ServerSentEvent:
        nonlocal last_sent
        if event_id is not None and int(event_id) > int(last_sent or "0"):
            last_sent = event_id
        return ServerSentEvent(event=event, raw_data=data, id=last_sent if event_id else None)

    try:
        yield ServerSentEvent(comment="connected", retry=2000)
        # Subscribed above, so a ring stored while these are read comes once (rings_sent).
        after = replay_from(last_event_id, utcnow())
        for message in await anyio.to_thread.run_sync(missed_rings, after, limiter=limiter):
            yield sent(*message)
        # EventSource's "open" fires on the headers; "ready" says notices now reach it.
        yield sent("ready", "{}", event_id_of(utcnow()))
        while not await request.is_disconnected():
            messages = await anyio.to_thread.run_sync(
                next_messages, sub, limiter=limiter, abandon_on_cancel=True
            )
            for message in messages:
                yield sent(*message)
    finally:
        sub.close()
