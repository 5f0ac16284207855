"""``doorstep hub export ...`` and ``doorstep hub report ...`` (light: heavy imports in handlers).

    $ doorstep hub export fhir-audit --home HOME --from 2026-01-01 --out unlocks.json
    $ doorstep hub export fhir-devices --out devices.json
    $ doorstep hub report ring-answers --from 2026-01-01 --to 2026-02-01 --format csv --out r.csv

Every run is audited (``export``, actor ``operator:<login name>``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

REPORT_NAMES = ("ring-answers", "ring-answer-summary", "unlocks-per-home", "device-uptime")


def parse_when(text: str) -> datetime:
    """An ISO date or time; a time without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an ISO date or time (e.g. 2026-01-31 or 2026-01-31T09:00Z)"
            ) from None
        value = datetime(day.year, day.month, day.day)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="since", type=parse_when, help="start (default: to - 30d)")
    parser.add_argument("--to", dest="until", type=parse_when, help="end, exclusive (default: now)")


def add_export_commands(
    hub: argparse._SubParsersAction,
    db_option: Callable[[argparse.ArgumentParser], None],
    guarded: Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]],
) -> None:
    export = hub.add_parser("export", help="write FHIR R4 exports (unlock audit events, devices)")
    kinds = export.add_subparsers(dest="export_kind", metavar="KIND", required=True)
    audit = kinds.add_parser("fhir-audit", help="a home's unlocks as a Bundle of AuditEvents")
    audit.add_argument("--home", required=True, help="the home's id")
    _range_options(audit)
    devices = kinds.add_parser("fhir-devices", help="doors as a Bundle of FHIR Devices")
    devices.add_argument("--home", action="append", help="only this home's doors (repeatable)")
    for parser in (audit, devices):
        db_option(parser)
        parser.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
        parser.add_argument("--site", default="doorstep-hub", help="this hub's name in FHIR")
        parser.set_defaults(handler=guarded(_export))

    report = hub.add_parser("report", help="write a CSV or JSON report for a data officer")
    report.add_argument("name", choices=REPORT_NAMES)
    report.add_argument("--home", action="append", help="only this home (repeatable)")
    report.add_argument("--format", choices=("csv", "json"), default="csv")
    report.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    _range_options(report)
    db_option(report)
    report.set_defaults(handler=guarded(_report))


def _database(args: argparse.Namespace) -> Any:
    from ..settings import HubSettings
    from ..storage.database import Database

    overrides = {"database_url": args.db} if getattr(args, "db", None) else {}
    db = Database.from_settings(HubSettings(**overrides))
    db.require_current_schema()
    return db


def _write(text: str, out: str | None) -> None:
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def _audit(db: Any, now: datetime, subjects: list[str], **details: Any) -> None:
    import getpass

    from ..audit import AuditAction, RefKind, append, ref

    with db.session() as s:
        append(
            s,
            AuditAction.EXPORT,
            actor=ref(RefKind.OPERATOR, getpass.getuser()),
            at=now,
            subjects=subjects,
            details=details,
        )


def _span(args: argparse.Namespace, now: datetime) -> tuple[datetime, datetime]:
    until = args.until or now
    since = args.since or until - timedelta(days=30)
    if since >= until:
        from ..errors import InvalidValue

        raise InvalidValue("--from must be before --to")
    return since, until


def _export(args: argparse.Namespace) -> int:
    import json

    from protocol.base import utcnow

    from ..audit import RefKind, ref
    from .fhir import bundle, unlock_audit_events
    from .fhir_devices import device_resources

    db = _database(args)
    now = utcnow()
    if args.export_kind == "fhir-audit":
        since, until = _span(args, now)
        with db.read_session() as s:
            resources = unlock_audit_events(s, args.home, since, until, site=args.site)
        subjects = [ref(RefKind.HOME, args.home)]
        details = {"since": since.isoformat(), "until": until.isoformat()}
    else:
        with db.read_session() as s:
            resources = device_resources(s, args.home, site=args.site)
        subjects, details = [], {}
    _write(json.dumps(bundle(resources, now=now), indent=1, ensure_ascii=False) + "\n", args.out)
    what = "fhir_audit_events" if args.export_kind == "fhir-audit" else "fhir_devices"
    _audit(db, now, subjects, what=what, count=len(resources), **details)
    print(f"exported {len(resources)} {what.replace('_', ' ')}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace) -> int:
    import json

    from protocol.base import utcnow

    from .csvjson import to_csv, to_json
    from .reports import Scope, build_report

    db = _database(args)
    now = utcnow()
    since, until = _span(args, now)
    with db.read_session() as s:
        made = build_report(s, args.name, Scope(args.home, since, until, now))
    if args.format == "json":
        meta = {"from": since.isoformat(), "to": until.isoformat()}
        text = json.dumps(to_json(made, **meta), indent=1) + "\n"
    else:
        text = to_csv(made)
    _write(text, args.out)
    _audit(
        db,
        now,
        [],
        what=f"report:{args.name}",
        format=args.format,
        rows=len(made.rows),
        since=since.isoformat(),
        until=until.isoformat(),
    )
    print(f"report {args.name}: {len(made.rows)} rows", file=sys.stderr)
    return 0
