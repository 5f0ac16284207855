"""Telling people about a missed visit: one alert and one notice per missed occurrence.

The alert is raised on the home's door (so the telecare fleet view shows it next to
the door's health), or on the home itself when it has no door; the "notify" notice
goes to the home's family and telecare officers (``hub.notify`` routes it; quiet
hours never silence it). ``claim_non_arrival`` makes it once, whatever the number of
passes or hub processes.

    notices = tell_non_arrival(session, record, now)   # [] when already told
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from .bus import Notice
from .policy import Permission, permissions
from .storage import open_alerts, raise_alert, resolve_alert
from .storage.devices import list_devices
from .storage.homes import get_home, members_of
from .storage.models_commands import AlertKind, AlertStatus
from .storage.models_registry import Person, Role
from .storage.models_visit_records import VisitRecord
from .storage.visit_records import claim_non_arrival

TOLD = (Role.FAMILY_OWNER, Role.FAMILY_MEMBER, Role.TELECARE_OFFICER)


def non_arrival_recipients(session: Session, home_id: str) -> list[str]:
    """Family and telecare officers of the home who may see its health, each once."""
    people: list[str] = []
    for m in members_of(session, home_id):
        if Role(m.role) not in TOLD or m.person_id in people:
            continue
        if Permission.VIEW_HEALTH in permissions(session, m.person_id, home_id):
            people.append(m.person_id)
    return people


def tell_non_arrival(session: Session, record: VisitRecord, now: datetime) -> list[Notice]:
    """Raise the alert and build the notices (post them after the commit); [] if told."""
    if not claim_non_arrival(session, record.id, at=now):
        return []
    home = get_home(session, record.home_id)
    tz = ZoneInfo(home.timezone)
    start, end = record.planned_start.astimezone(tz), record.planned_end.astimezone(tz)
    doors = list_devices(session, home_id=record.home_id)
    device = doors[0].id if doors else None
    details = {
        "visit_record": record.id,
        "window_id": record.window_id,
        "planned_start": record.planned_start.isoformat(),
        "planned_end": record.planned_end.isoformat(),
    }
    alert, _new = raise_alert(
        session,
        AlertKind.CARER_NON_ARRIVAL,
        at=now,
        device_id=device,
        home_id=None if device else record.home_id,
        details=details,
    )
    carer = session.get(Person, record.carer_id)
    who = carer.display_name if carer is not None else "The carer"
    agency = f" ({record.agency})" if record.agency else ""
    span = f"{start:%H:%M}–{end:%H:%M}"
    body = f"{who}{agency} was expected at {home.name}, {start:%A} {span}, and has not arrived."
    notify = Notice(
        "notify",
        "",
        {
            "to": non_arrival_recipients(session, record.home_id),
            "message_kind": "carer_non_arrival",
            "key": f"carer_non_arrival:{record.id}",
            "title": "Carer has not arrived",
            "body": body,
            "url": f"/homes/{record.home_id}",
            "tag": f"visit-{record.id}",
            "safety": True,
            "extra": {
                "home_id": record.home_id,
                "window_id": record.window_id,
                "visit_record": record.id,
                "planned": span,
                "alert_id": alert.id,
            },
        },
        record.home_id,
        now,
    )
    # The alert notice refreshes telecare dashboards (no personal data in it).
    shown = Notice(
        "alert",
        device or "",
        {"alert": alert.kind.value, "alert_id": alert.id},
        record.home_id,
        now,
    )
    return [shown, notify]


def resolve_non_arrival(session: Session, record: VisitRecord, now: datetime) -> None:
    """Close this visit's non-arrival alert: its events arrived late, the carer did come."""
    for alert in open_alerts(session, kind=AlertKind.CARER_NON_ARRIVAL):
        if alert.details.get("visit_record") == record.id:
            resolve_alert(session, alert.id, at=now, by=None)


def clear_seen_non_arrivals(session: Session, home_id: str, now: datetime) -> None:
    """A carer arrived again: close the home's non-arrival alerts someone has acknowledged
    (so the next missed visit raises a fresh one); unacknowledged ones stay for telecare."""
    doors = {d.id for d in list_devices(session, home_id=home_id, include_revoked=True)}
    for alert in open_alerts(session, kind=AlertKind.CARER_NON_ARRIVAL):
        mine = alert.home_id == home_id or alert.device_id in doors
        if mine and alert.status is AlertStatus.ACKNOWLEDGED:
            resolve_alert(session, alert.id, at=now, by=None)
