"""Visits planned against visits made, for a home and a date range, as CSV or JSON.

GET /api/homes/{home}/reports/visits?from=YYYY-MM-DD&to=YYYY-MM-DD[&carer=ID][&format=csv]

Needs VIEW_EVENTS: the report is derived from the door's history, so exactly those who
may read that history may read it. The home's open visits are brought up to date first
(the periodic job does the same, and is the one that tells people about missed visits).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from hub.policy import Permission
from hub.visit_records import refresh
from hub.visit_report import MAX_DAYS, rows_csv, visit_rows

from ..deps import CurrentPerson, HubDep, Now, authorise

router = APIRouter(prefix="/api", tags=["visits"])
# Dates far outside these overflow time-zone arithmetic; no visit lies there anyway.
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)


@router.get("/homes/{home}/reports/visits", response_model=None)
def visits_report(
    home: str,
    person: CurrentPerson,
    hub: HubDep,
    now: Now,
    first: Annotated[date, Query(alias="from", description="first day, the home's date")],
    last: Annotated[date, Query(alias="to", description="last day (included)")],
    carer: Annotated[str | None, Query(max_length=36)] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response | dict[str, Any]:
    if last < first:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'to' is before 'from'")
    if first < EARLIEST or last > LATEST:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"ask for days from {EARLIEST.isoformat()} to {LATEST.isoformat()}",
        )
    if (last - first).days >= MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"ask for at most {MAX_DAYS} days at a time"
        )
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.VIEW_EVENTS)
    with hub.db.session() as s:
        refresh(s, now, home)
    with hub.db.read_session() as s:
        rows = visit_rows(s, home, first, last, carer)
    if format == "csv":
        name = f"visits-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(
            rows_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return {"home": home, "from": first.isoformat(), "to": last.isoformat(), "visits": rows}
