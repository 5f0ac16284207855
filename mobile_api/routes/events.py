"""Event history of a home and its snapshots.

GET /api/homes/{home}/events?limit=100   newest first; the next (older) page's
    address is in the ``Link: <...>; rel="next"`` header, absent on the last page
    (``before`` is that header's opaque cursor; ``after_seq`` keeps only events
    above a seq, each device's own numbering)
GET /api/snapshots/{id}      JPEG; VIEW_SNAPSHOTS; audited when allowed by a grant
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Query, Response, status

from hub.audit import AuditAction, RefKind, append, device_ref, person_ref, ref
from hub.policy import Permission, by_grant, permissions
from hub.storage import get_snapshot, list_devices
from hub.storage.devices import get_device
from hub.storage.history import HistoryCursor, history_page
from hub.storage.models_events import Event

from ..deps import MAX_SEQ, CurrentPerson, HubDep, Now, authorise

router = APIRouter(prefix="/api", tags=["events"])


@router.get("/homes/{home}/events")
def events(
    home: str,
    person: CurrentPerson,
    hub: HubDep,
    response: Response,
    after_seq: int = Query(0, ge=0, le=MAX_SEQ),
    limit: int = Query(100, ge=1, le=1000),
    before: str | None = Query(
        None, max_length=4000, description="cursor from the previous page's Link header"
    ),
) -> list[dict[str, object]]:
    try:
        cursor = HistoryCursor.decode(before) if before else None
    except ValueError as e:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from None
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.VIEW_EVENTS)
        snapshots = Permission.VIEW_SNAPSHOTS in permissions(s, person, home)
        devices = [d.id for d in list_devices(s, home_id=home)]
        page = history_page(s, devices, limit=limit, cursor=cursor, after_seq=after_seq)
        out = [_event_view(e, snapshots) for e in page.events]
    if page.next_cursor is not None:
        query = {"limit": str(limit), "before": page.next_cursor.encode()}
        if after_seq:
            query["after_seq"] = str(after_seq)
        path = f"/api/homes/{quote(home)}/events?{urlencode(query)}"
        response.headers["Link"] = f'<{path}>; rel="next"'
    return out


def _event_view(e: Event, snapshots: bool) -> dict[str, object]:
    payload = dict(e.payload)
    if not snapshots:
        payload.pop("snapshot_id", None)
    return {
        "device": e.device_id,
        "seq": e.seq,
        "kind": e.kind,
        "event_id": e.event_id,
        "device_time": e.device_time.isoformat(),
        "received_at": e.received_at.isoformat(),
        "payload": payload,
    }


@router.get("/snapshots/{snapshot_id}", response_class=Response)
def snapshot(snapshot_id: str, person: CurrentPerson, hub: HubDep, now: Now) -> Response:
    # A read, except when the right comes from a grant: that viewing is audited.
    with hub.db.read_session() as s:
        meta = get_snapshot(s, snapshot_id)
        if meta is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such snapshot (or purged)")
        home = get_device(s, meta.device_id).home_id
        authorise(s, person, home, Permission.VIEW_SNAPSHOTS)
        audited = home is not None and by_grant(s, person, home, Permission.VIEW_SNAPSHOTS)
        sha, device_id = meta.sha256, meta.device_id
    if audited:
        with hub.db.session() as s:
            append(
                s,
                AuditAction.SNAPSHOT_VIEWED,
                actor=person_ref(person),
                at=now,
                subjects=[device_ref(device_id), ref(RefKind.SNAPSHOT, snapshot_id)],
                details={"by_grant": Permission.VIEW_SNAPSHOTS.value},
            )
    return Response(
        hub.files.read(sha), media_type="image/jpeg", headers={"Cache-Control": "private, no-store"}
    )
