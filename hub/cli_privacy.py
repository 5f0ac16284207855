"""``doorstep hub export-person`` and ``doorstep hub erase-person``: subject rights.

Both act as the operator at the hub's command line (audited as ``operator:<user>``).

    $ doorstep hub export-person 7f1c... --out person.zip
    $ doorstep hub erase-person 7f1c... --yes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR = 0, 2


def add_privacy_commands(hub: argparse._SubParsersAction) -> None:
    export = hub.add_parser(
        "export-person", help="write a subject-access export (zip) of one person's data"
    )
    export.add_argument("person_id", metavar="PERSON_ID")
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="the zip to write")
    export.add_argument("--db", metavar="URL", help="database URL (default from settings)")
    export.set_defaults(handler=_export)

    erase = hub.add_parser(
        "erase-person", help="erase one person's personal data (the audit log stays whole)"
    )
    erase.add_argument("person_id", metavar="PERSON_ID")
    erase.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")
    erase.add_argument("--db", metavar="URL", help="database URL (default from settings)")
    erase.set_defaults(handler=_erase)


def _export(args: argparse.Namespace) -> int:
    from .cli_accounts import _operator
    from .errors import HubError
    from .storage.snapshot_files import SnapshotFiles
    from .subject_access import export_person

    db, settings = _open(args)
    try:
        with open(args.out, "wb") as out:
            manifest = export_person(
                db, SnapshotFiles(settings.snapshots), args.person_id, out, by=_operator()
            )
    except (HubError, OSError) as exc:
        print(f"doorstep: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"wrote {len(manifest['files'])} files about {args.person_id} to {args.out}")
    return EXIT_OK


def _erase(args: argparse.Namespace) -> int:
    from .cli_accounts import _operator
    from .erasure import erase_person_data
    from .errors import HubError
    from .storage.snapshot_files import SnapshotFiles

    if not args.yes:
        print("erasure cannot be undone: repeat with --yes", file=sys.stderr)
        return EXIT_ERROR
    db, settings = _open(args)
    try:
        summary = erase_person_data(
            db, SnapshotFiles(settings.snapshots), args.person_id, by=_operator()
        )
    except HubError as exc:
        print(f"doorstep: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    state = "was already erased" if summary.already_erased else "erased"
    print(f"{args.person_id} {state} ({summary.snapshots_deleted} snapshots deleted)")
    return EXIT_OK


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from .cli import _settings
    from .storage.database import Database

    settings = _settings(args)
    db = Database.from_settings(settings)
    db.require_current_schema()
    return db, settings
