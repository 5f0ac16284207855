"""The telecare officer's fleet view: device health across homes, alerts. No snapshots.

GET  /api/fleet
POST /api/alerts/{id}/acknowledge
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.errors import InvalidTransition
from hub.policy import Permission
from hub.storage import acknowledge_alert, list_devices, memberships_of, open_alerts
from hub.storage.devices import get_device
from hub.storage.models_registry import Role

from ..deps import CurrentPerson, HubDep, Now, authorise

router = APIRouter(prefix="/api", tags=["telecare"])


@router.get("/fleet")
def fleet(person: CurrentPerson, hub: HubDep) -> list[dict[str, object]]:
    with hub.db.read_session() as s:
        homes = sorted(
            {m.home_id for m in memberships_of(s, person) if m.role is Role.TELECARE_OFFICER}
        )
        out: list[dict[str, object]] = []
        for home in homes:
            authorise(s, person, home, Permission.VIEW_HEALTH)
            for d in list_devices(s, home_id=home):
                out.append(
                    {
                        "home": home,
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
                            for a in open_alerts(s, device_id=d.id)
                        ],
                    }
                )
    return out


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
