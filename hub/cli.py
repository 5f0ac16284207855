"""``doorstep hub ...`` and ``doorstep audit ...`` commands.

Light on purpose: heavy imports (SQLAlchemy, cryptography) happen inside the
handlers so ``doorstep --help`` stays fast. One function registers each command
group; add a subcommand by adding a parser there and a ``_handler``.

    $ doorstep hub migrate
    $ doorstep audit verify --checkpoints from-telecare.json --public-key hub-signing.pub
    $ doorstep audit export --format fhir --out audit.ndjson
    $ doorstep audit reindex        # when verify says the reference index is wrong
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_TAMPERED, EXIT_ERROR = 0, 1, 2


def register(sub: argparse._SubParsersAction) -> None:
    register_hub(sub)
    register_audit(sub)


def _group(sub: argparse._SubParsersAction, name: str, help_: str) -> argparse._SubParsersAction:
    parser = sub.add_parser(name, help=help_, description=help_)
    parser.set_defaults(handler=lambda _args: parser.print_help() or EXIT_ERROR)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: DOORSTEP_HUB_DATABASE_URL or <data_dir>/hub.sqlite3)",
    )


def register_hub(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """``doorstep hub``: run and maintain the hub. Returns its subparsers for more commands."""
    hub = _group(sub, "hub", "run and maintain the hub")
    migrate = hub.add_parser("migrate", help="create or upgrade the hub's database schema")
    _db_option(migrate)
    migrate.add_argument("--revision", default="head", help="target revision (default: head)")
    migrate.set_defaults(handler=_guarded(_migrate))
    from .cli_accounts import add_account_commands
    from .cli_run import add_run_commands

    add_run_commands(hub)
    add_account_commands(hub)
    from .cli_privacy import add_privacy_commands  # issue 9: export-person, erase-person

    add_privacy_commands(hub)
    from .exports.cli import add_export_commands  # FHIR exports and reports (issue 10)

    add_export_commands(hub, _db_option, _guarded)
    from .webhooks.cli import add_webhook_commands  # partner webhooks (issue 10)

    add_webhook_commands(hub, _db_option, _guarded)
    return hub


def register_audit(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """``doorstep audit``: check and export the tamper-evident audit log."""
    audit = _group(sub, "audit", "check and export the tamper-evident audit log")

    verify = audit.add_parser("verify", help="recompute the hash chain and check checkpoints")
    _db_option(verify)
    verify.add_argument(
        "--checkpoints",
        metavar="FILE",
        help="signed checkpoints kept off the hub (default: the copies in the database)",
    )
    verify.add_argument(
        "--public-key",
        metavar="PEM",
        action="append",
        help="key that signed the checkpoints (repeat for old keys; default: the hub's)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(handler=_guarded(_verify))

    export = audit.add_parser("export", help="write entries as JSON lines or FHIR AuditEvents")
    _db_option(export)
    export.add_argument("--format", choices=("json", "fhir"), default="json")
    export.add_argument("--from", dest="first", type=int, default=1, metavar="SEQ")
    export.add_argument("--to", dest="last", type=int, default=None, metavar="SEQ")
    export.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    export.set_defaults(handler=_guarded(_export))

    checkpoints = audit.add_parser(
        "checkpoints", help="write the stored signed checkpoints as JSON (to keep off the hub)"
    )
    _db_option(checkpoints)
    checkpoints.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    checkpoints.set_defaults(handler=_guarded(_checkpoints))

    checkpoint = audit.add_parser("checkpoint", help="sign a checkpoint of the head now")
    _db_option(checkpoint)
    checkpoint.add_argument("--key", metavar="PEM", help="private key (default: the hub's)")
    checkpoint.set_defaults(handler=_guarded(_checkpoint))

    reindex = audit.add_parser(
        "reindex", help="rebuild the reference index (audit_refs) from the entries"
    )
    _db_option(reindex)
    reindex.add_argument(
        "--force",
        action="store_true",
        help="rebuild even though the chain does not verify (keep a copy of the database first)",
    )
    reindex.set_defaults(handler=_guarded(_reindex))
    return audit


# -- handlers (heavy imports from here on) ----------------------------------------


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from pydantic import ValidationError

        from protocol.errors import ProtocolError

        from .errors import HubError

        try:
            return handler(args)
        except (HubError, ProtocolError, ValidationError) as exc:
            print(f"doorstep: error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    return run


def _settings(args: argparse.Namespace) -> Any:
    from .settings import HubSettings

    overrides = {"database_url": args.db} if getattr(args, "db", None) else {}
    return HubSettings(**overrides)


def _database(args: argparse.Namespace) -> Any:
    from .storage.database import Database

    db = Database.from_settings(_settings(args))
    db.require_current_schema()
    return db


def _migrate(args: argparse.Namespace) -> int:
    from .storage.database import Database

    db = Database.from_settings(_settings(args))
    before = db.current_revision()
    db.upgrade(args.revision)
    print(f"{db!r}: schema {before or 'empty'} -> {db.current_revision()}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .audit.checkpoints import load_checkpoints, stored_checkpoints
    from .audit.verify import verify

    settings = _settings(args)
    db = _database(args)
    if args.checkpoints:
        checkpoints = load_checkpoints(Path(args.checkpoints))
        source = args.checkpoints
    else:
        with db.read_session() as s:
            checkpoints = stored_checkpoints(s)
        source = "the hub's own database (give --checkpoints for copies kept elsewhere)"
    keys = _public_keys(args.public_key, settings, needed=bool(checkpoints))
    report = verify(db, checkpoints, keys)
    if args.json:
        print(json.dumps(_report_json(report), indent=1))
    else:
        print(report.summary())
        print(f"checkpoints from {source}")
        for problem in report.problems[1:]:
            print(f"also: {problem}")
        if report.index.ok:
            print(report.index.summary())
        for mismatch in report.index.first:
            print(f"index: {mismatch}")
    return EXIT_OK if report.ok else EXIT_TAMPERED


def _public_keys(paths: list[str] | None, settings: Any, *, needed: bool) -> list[Any]:
    from pathlib import Path

    from protocol.signing import load_private_key, load_public_key

    from .errors import AuditKeyError

    if paths:
        return [load_public_key(Path(p)) for p in paths]
    if settings.audit_key is None and settings.signing_public_key.exists():
        return [load_public_key(settings.signing_public_key)]
    if settings.audit_signing_key.exists():
        return [load_private_key(settings.audit_signing_key).public_key()]
    if needed:
        raise AuditKeyError(
            f"no public key to check checkpoints with: pass --public-key PEM "
            f"(looked for {settings.signing_public_key} and {settings.audit_signing_key})"
        )
    return []


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "entries": report.entries,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "checkpoints_given": report.checkpoints_given,
        "checkpoints_valid": report.checkpoints_valid,
        "newest_checkpoint_seq": report.newest_checkpoint_seq,
        "problems": [
            {"seq": p.seq, "reason": p.reason.value, "detail": p.detail} for p in report.problems
        ],
        "seconds": round(report.seconds, 3),
        "chain_ok": report.chain_ok,
        "index": _index_json(report.index),
    }


def _index_json(index: Any) -> dict[str, Any]:
    from .audit.verify_index import REPAIR_COMMAND

    return {
        "ok": index.ok,
        "rows": index.rows,
        "wrong_entries": index.wrong_entries,
        "missing_rows": index.missing_rows,
        "extra_rows": index.extra_rows,
        "orphan_rows": index.orphan_rows,
        "orphan_seqs": index.orphan_seqs,
        "first": [
            {"seq": m.seq, "entry_exists": m.entry_exists, "missing": m.missing, "extra": m.extra}
            for m in index.first
        ],
        "repair": None if index.ok else REPAIR_COMMAND,
    }


def _export(args: argparse.Namespace) -> int:
    import getpass
    import json

    from protocol.base import utcnow

    from .audit.actions import AuditAction, RefKind, ref
    from .audit.export import entry_json, fhir_audit_event
    from .audit.log import append, entries

    db = _database(args)
    convert = fhir_audit_event if args.format == "fhir" else entry_json
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    count = 0
    try:
        with db.read_session() as s:
            for row in entries(s, after=args.first - 1, until=args.last):
                out.write(json.dumps(convert(row), ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    # An export of the log is itself an auditable act.
    with db.session() as s:
        append(
            s,
            AuditAction.EXPORT,
            actor=ref(RefKind.OPERATOR, getpass.getuser()),
            at=utcnow(),
            details={
                "what": "audit_log",
                "format": args.format,
                "entries": count,
                "from": args.first,
                "to": args.last,
            },
        )
    print(f"exported {count} entries as {args.format}", file=sys.stderr)
    return EXIT_OK


def _checkpoints(args: argparse.Namespace) -> int:
    from .audit.checkpoints import dump_checkpoints, stored_checkpoints

    db = _database(args)
    with db.read_session() as s:
        text = dump_checkpoints(stored_checkpoints(s))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _checkpoint(args: argparse.Namespace) -> int:
    from pathlib import Path

    from protocol.base import utcnow
    from protocol.signing import load_private_key

    from .audit.checkpoints import make_checkpoint

    settings = _settings(args)
    key = load_private_key(Path(args.key) if args.key else settings.audit_signing_key)
    db = _database(args)
    with db.session() as s:
        made = make_checkpoint(s, key, now=utcnow())
    print(
        f"signed checkpoint of #{made.statement.seq} {made.statement.hash[:16]}... "
        f"with key {made.envelope.kid}"
    )
    return EXIT_OK


def _reindex(args: argparse.Namespace) -> int:
    from protocol.base import utcnow

    from .audit.reindex import reindex
    from .cli_accounts import _operator

    result = reindex(_database(args), actor=_operator(), at=utcnow(), force=args.force)
    for mismatch in result.first:
        print(f"fixed: {mismatch}")
    print(result.summary())
    return EXIT_OK
