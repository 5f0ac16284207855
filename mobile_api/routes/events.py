"""Event history of a home and its snapshots.

GET /api/homes/{home}/events?after_seq=0&limit=100
GET /api/snapshots/{id}      JPEG; VIEW_SNAPSHOTS; audited when allowed by a grant
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Response, status

from hub.audit import AuditAction, RefKind, append, device_ref, person_ref, ref
from hub.policy import Permission, by_grant, permissions
from hub.storage import events_of, get_snapshot, list_devices
from hub.storage.devices import get_device

from ..deps import MAX_SEQ, CurrentPerson, HubDep, Now, authorise

router = APIRouter(prefix="/api", tags=["events"])


@router.get("/homes/{home}/events")
def events(
    home: str,
    person: CurrentPerson,
    hub: HubDep,
    after_seq: int = Query(0, ge=0, le=MAX_SEQ),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, object]]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.VIEW_EVENTS)
        snapshots = Permission.VIEW_SNAPSHOTS in permissions(s, person, home)
        out: list[dict[str, object]] = []
        for device in list_devices(s, home_id=home):
            for e in events_of(s, device.id, after_seq=after_seq, limit=limit):
                payload = dict(e.payload)
                if not snapshots:
                    payload.pop("snapshot_id", None)
                out.append(
                    {
                        "device": e.device_id,
                        "seq": e.seq,
                        "kind": e.kind,
                        "event_id": e.event_id,
                        "device_time": e.device_time.isoformat(),
                        "received_at": e.received_at.isoformat(),
                        "payload": payload,
                    }
                )
    out.sort(key=lambda r: str(r["received_at"]))
    return out[-limit:]


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
