"""A report as CSV (one header row, then one row per record) or as JSON.

CSV cells: ``None`` is empty, booleans are ``true``/``false``, everything else as text;
a cell that a spreadsheet would run as a formula (starts with = + - @) gets a leading
apostrophe, so an exported id can never become a formula.

    to_csv(report).splitlines()[0]      # 'home_id,month,who_kind,...'
    to_json(report)["rows"][0]
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .reports import Report

FORMATS = ("csv", "json")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_cell(row.get(c)) for c in report.columns])
    return out.getvalue()


def to_json(report: Report, **meta: Any) -> dict[str, Any]:
    return {"report": report.name, **meta, "columns": list(report.columns), "rows": report.rows}
