"""Visits planned against visits made, per home (optionally one carer), as rows for CSV/JSON.

Times are the home's wall-clock time with its UTC offset (ISO 8601), so a row reads
the same in a spreadsheet as on the ring screen; dates are the home's local dates.

    rows = visit_rows(s, home_id, date(2026, 3, 1), date(2026, 3, 31))
    text = rows_csv(rows)
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from .storage.homes import get_home
from .storage.models_registry import Person
from .storage.models_visit_records import VisitStatus
from .storage.visit_records import records_between

COLUMNS = (
    "date",
    "carer_id",
    "carer",
    "agency",
    "planned_start",
    "planned_end",
    "tolerance_min",
    "status",
    "arrival",
    "arrival_via",
    "entry",
    "departure",
    "duration_s",
    "late",
    "missed",
)
MAX_DAYS = 400
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def visit_rows(
    session: Session, home_id: str, first: date, last: date, carer_id: str | None = None
) -> list[dict[str, Any]]:
    """One row per planned visit starting on ``first`` .. ``last`` (home dates, inclusive)."""
    tz = ZoneInfo(get_home(session, home_id).timezone)
    since = datetime.combine(first, time(0), tzinfo=tz)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    names: dict[str, str | None] = {}
    rows = []
    for r in records_between(session, home_id, since, until, carer_id):
        if r.carer_id not in names:
            person = session.get(Person, r.carer_id)
            names[r.carer_id] = person.display_name if person is not None else None
        start = r.planned_start.astimezone(tz)
        rows.append(
            {
                "date": start.date().isoformat(),
                "carer_id": r.carer_id,
                "carer": names[r.carer_id],
                "agency": r.agency,
                "planned_start": _local(r.planned_start, tz),
                "planned_end": _local(r.planned_end, tz),
                "tolerance_min": r.tolerance_min,
                "status": r.status.value,
                "arrival": _local(r.arrival_at, tz),
                "arrival_via": r.arrival_via,
                "entry": _local(r.entry_at, tz),
                "departure": _local(r.departure_at, tz),
                "duration_s": r.duration_s,
                "late": r.late,
                "missed": r.status is VisitStatus.MISSED,
            }
        )
    return rows


def rows_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(FORMULA):
        return "'" + value  # a name like "=HYPERLINK(...)" stays text in a spreadsheet
    return "" if value is None else value


def _local(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).isoformat(timespec="seconds") if at is not None else None
