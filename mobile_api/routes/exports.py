"""Exports: unlocks as FHIR R4 AuditEvents, doors as FHIR Devices, reports as CSV or JSON.

GET /api/homes/{home}/export/fhir/audit-events?from=&to=    (read_audit)  FHIR Bundle
GET /api/admin/export/fhir/devices                          (administer)  FHIR Bundle
GET /api/admin/reports/{report}?from=&to=&format=csv|json    (administer)  one route per report

``from``/``to`` are ISO dates or times (UTC unless they say otherwise); the default is
the 30 days up to now. Admins get only the homes they administer. Every export is
itself audited (``export``), naming what was exported and the range, never the content.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.errors import InvalidValue
from hub.exports.csvjson import to_csv, to_json
from hub.exports.fhir import bundle, unlock_audit_events
from hub.exports.fhir_devices import device_resources
from hub.exports.reports import REPORTS, Scope, build_report
from hub.policy import Permission

from ..deps import CurrentPerson, HubDep, Now, authorise
from .admin import administered

router = APIRouter(prefix="/api", tags=["exports"])

FHIR_JSON = "application/fhir+json"
DEFAULT_SPAN = timedelta(days=30)
# Outside these a report's arithmetic (a range plus its answer window) could overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
FromQuery = Query(None, alias="from", description="start (ISO date or time; default to - 30 days)")
ToQuery = Query(None, alias="to", description="end, exclusive (ISO date or time; default now)")


def _when(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _range(first: datetime | date | None, last: datetime | date | None, now: datetime) -> Any:
    until = _when(last) or now
    if not EARLIEST + DEFAULT_SPAN <= until <= LATEST:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "'to' must be between 1970 and 9000"
        )
    since = _when(first) or until - DEFAULT_SPAN
    if since < EARLIEST or since >= until:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "'from' must be after 1970 and before 'to'"
        )
    return since, until


def _audit_export(
    hub: Any, person: str, now: datetime, subjects: list[str], **details: Any
) -> None:
    with hub.db.session() as s:
        append(
            s,
            AuditAction.EXPORT,
            actor=person_ref(person),
            at=now,
            subjects=subjects,
            details=details,
        )


def _admin_homes(hub: Any, person: str) -> set[str]:
    with hub.db.read_session() as s:
        homes = administered(s, person)
    if not homes:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only administrators may do this: ask your hub's admin"
        )
    return homes


@router.get("/homes/{home}/export/fhir/audit-events", response_class=JSONResponse)
def fhir_audit_events(
    home: str,
    person: CurrentPerson,
    hub: HubDep,
    now: Now,
    first: datetime | date | None = FromQuery,
    last: datetime | date | None = ToQuery,
) -> Response:
    """Every step of every unlock of this home's doors, as a FHIR R4 Bundle of AuditEvents."""
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.READ_AUDIT)
        since, until = _range(first, last, now)
        events = unlock_audit_events(s, home, since, until)
    body = bundle(events, now=now)
    _audit_export(
        hub,
        person,
        now,
        [ref(RefKind.HOME, home)],
        what="fhir_audit_events",
        count=len(events),
        since=since.isoformat(),
        until=until.isoformat(),
    )
    return JSONResponse(body, media_type=FHIR_JSON)


@router.get("/admin/export/fhir/devices", response_class=JSONResponse)
def fhir_devices(person: CurrentPerson, hub: HubDep, now: Now) -> Response:
    """The doors of the homes one administers (and doors in no home yet) as FHIR Devices."""
    homes = _admin_homes(hub, person)
    with hub.db.read_session() as s:
        resources = device_resources(s, homes, unassigned=True)
    body = bundle(resources, now=now)
    _audit_export(hub, person, now, [], what="fhir_devices", count=len(resources))
    return JSONResponse(body, media_type=FHIR_JSON)


def _report_route(name: str) -> Any:
    def report(
        person: CurrentPerson,
        hub: HubDep,
        now: Now,
        first: datetime | date | None = FromQuery,
        last: datetime | date | None = ToQuery,
        format: str = Query("csv", pattern="^(csv|json)$"),
    ) -> Response:
        homes = _admin_homes(hub, person)
        since, until = _range(first, last, now)
        with hub.db.read_session() as s:
            try:
                made = build_report(s, name, Scope(homes, since, until, now))
            except InvalidValue as exc:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        _audit_export(
            hub,
            person,
            now,
            [],
            what=f"report:{name}",
            format=format,
            rows=len(made.rows),
            since=since.isoformat(),
            until=until.isoformat(),
        )
        if format == "json":
            meta = {"from": since.isoformat(), "to": until.isoformat()}
            return JSONResponse(to_json(made, **meta))
        return Response(
            to_csv(made),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )

    report.__name__ = f"report_{name.replace('-', '_')}"
    report.__doc__ = f"The {name} report (ids only, no names) as CSV or JSON."
    return report


for _name in REPORTS:
    router.add_api_route(f"/admin/reports/{_name}", _report_route(_name), methods=["GET"])
