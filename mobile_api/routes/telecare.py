"""The telecare officer's fleet view: device health across homes, alerts. No snapshots.

GET  /api/fleet
POST /api/alerts/{id}/acknowledge
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.errors import InvalidTransition
from hub.policy import Permission, permissions_by_home
from hub.storage import acknowledge_alert, memberships_of, open_alerts
from hub.storage.alerts import open_alerts_of_devices
from hub.storage.devices import devices_of_homes, get_device
from hub.storage.models_registry import Role

from ..deps import CurrentPerson, HubDep, Now, authorise

router = APIRouter(prefix="/api", tags=["telecare"])


@router.get("/fleet")
def fleet(person: CurrentPerson, hub: HubDep) -> list[dict[str, object]]:
    # A few reads whatever the number of homes: an officer may watch hundreds.
    with hub.db.read_session() as s:
        homes = {m.home_id for m in memberships_of(s, person) if m.role is Role.TELECARE_OFFICER}
        rights = permissions_by_home(s, person)
        if any(Permission.VIEW_HEALTH not in rights.get(h, set()) for h in homes):
            authorise(s, person, None, Permission.VIEW_HEALTH)  # the usual 403
        devices = devices_of_homes(s, homes)
        alerts = open_alerts_of_devices(s, [d.id for d in devices])
        return [
            {
                "home": d.home_id,
                "device": d.id,
                "name": d.name,
                "health": d.health.value,
                "last_seen": d.last_seen.isoformat() if d.last_seen else None,
                "software_version": d.software_version,
                "lock": d.lock_state.value,
                "door": d.door_state.value,
                "outbox_depth": d.outbox_depth,
                "alerts": [
                    {"id": a.id, "kind": a.kind.value, "status": a.status.value}
                    for a in alerts[d.id]
                ],
            }
            for d in devices
        ]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: int, person: CurrentPerson, hub: HubDep, now: Now) -> dict[str, str]:
    with hub.db.session() as s:
        alert = next((a for a in open_alerts(s) if a.id == alert_id), None)
        if alert is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no open alert {alert_id}")
        home = alert.home_id or (
            get_device(s, alert.device_id).home_id if alert.device_id else None
        )
        authorise(s, person, home, Permission.ACK_ALERTS)
        try:
            acknowledge_alert(s, alert_id, by=person, at=now)
        except InvalidTransition as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        append(
            s,
            AuditAction.ALERT_ACKNOWLEDGED,
            actor=person_ref(person),
            at=now,
            subjects=[ref(RefKind.ALERT, alert_id)],
        )
    return {"status": "acknowledged"}
