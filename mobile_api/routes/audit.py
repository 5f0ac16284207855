"""The audit log as it concerns one home: entries naming the home or one of its doors.

GET /api/homes/{home}/audit?limit=100&before=SEQ   (read_audit), newest first
    -> [{seq, at, action, actor, actor_name|null, subjects, details}]

Entries naming the home, its doors or its visit windows are found through the
audit reference index (``audit_refs``), so an old, quiet home in a busy deployment
sees all of its history: the next (older) page's address is in the
``Link: <...>; rel="next"`` header, absent on the last page (it pages on with
``before=<the last seq returned>``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from hub.audit import RefKind, device_ref, ref, split_ref
from hub.errors import NotFound
from hub.policy import Permission
from hub.storage import get_person, list_devices
from hub.storage.audit_recent import audit_rows_naming
from hub.storage.visits import windows_of_home

from ..deps import MAX_SEQ, CurrentPerson, HubDep, authorise
from .paging import link_next

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/homes/{home}/audit")
def home_audit(
    home: str,
    person: CurrentPerson,
    hub: HubDep,
    response: Response,
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=1, le=MAX_SEQ),
) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.READ_AUDIT)
        mine = {ref(RefKind.HOME, home)}
        # A revoked door's past (its unlocks) is still this home's history.
        doors = list_devices(s, home_id=home, include_revoked=True)
        mine |= {device_ref(d.id) for d in doors}
        mine |= {ref(RefKind.VISIT, w.id) for w in windows_of_home(s, home)}
        found = audit_rows_naming(s, mine, before=before, limit=limit + 1)
        path = f"/api/homes/{quote(home)}/audit"
        link_next(response, path, found, limit, {}, lambda r: str(r.seq), cursor="before")
        names: dict[str, str | None] = {}
        return [
            {
                "seq": row.seq,
                "at": row.at.isoformat(),
                "action": row.action,
                "actor": row.actor,
                "actor_name": _actor_name(s, row.actor, names),
                "subjects": list(row.subjects),
                "details": row.details,
            }
            for row in found[:limit]
        ]


def _actor_name(s: Any, actor: str, names: dict[str, str | None]) -> str | None:
    kind, ident = split_ref(actor)
    if kind is not RefKind.PERSON:
        return None
    if ident not in names:
        try:
            names[ident] = get_person(s, ident).display_name
        except NotFound:
            names[ident] = None  # erased: the log keeps only the id
    return names[ident]
