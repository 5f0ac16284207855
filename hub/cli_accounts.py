"""``doorstep hub create-admin`` and ``doorstep hub invite``: accounts from the command line.

The first administrator is made here, once (there are no default accounts); after
that, people arrive through one-time invitations, which an operator can also make.

    $ doorstep hub create-admin --username root --password-file /run/secrets/admin
    $ doorstep hub invite --home HOME_ID --role family_owner --name "Anna"
    $ doorstep hub seal-secrets   # make the sealing key; encrypt secrets kept in the clear
    (TOTP and webhook signing secrets; ``seal-totp`` is the older name of the same command)
    (prints the one-time token; the link to send is https://<hub>/invite#<token>)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR = 0, 2
ROLES = ("family_owner", "family_member", "carer", "telecare_officer", "admin")


def add_account_commands(hub: argparse._SubParsersAction) -> None:
    admin = hub.add_parser(
        "create-admin", help="create the first administrator (refused once accounts exist)"
    )
    admin.add_argument("--username", required=True)
    admin.add_argument(
        "--password-file",
        type=Path,
        help="read the password from this file's first line (default: ask for it)",
    )
    admin.add_argument("--display-name", default="Administrator")
    admin.add_argument("--home", help="administer this existing home (default: make a new one)")
    admin.add_argument("--home-name", default="Home", help="name of the new home")
    admin.add_argument("--timezone", default="Europe/London", help="IANA zone of the new home")
    admin.add_argument("--db", metavar="URL", help="database URL (default from settings)")
    admin.set_defaults(handler=_create_admin)

    for name in ("seal-secrets", "seal-totp"):  # seal-totp: its name before webhooks
        seal = hub.add_parser(
            name,
            help="make the sealing key if absent; encrypt TOTP and webhook secrets kept plain",
        )
        seal.add_argument("--db", metavar="URL", help="database URL (default from settings)")
        seal.set_defaults(handler=_seal_totp)

    invite = hub.add_parser("invite", help="make a one-time invitation into a home")
    invite.add_argument("--home", required=True, help="id of the home")
    invite.add_argument("--role", required=True, choices=ROLES)
    invite.add_argument("--name", required=True, help="who it is for (shown to you only)")
    invite.add_argument("--valid-days", type=int, default=7, help="days until it expires")
    invite.add_argument("--db", metavar="URL", help="database URL (default from settings)")
    invite.set_defaults(handler=_invite)


def _operator() -> str:
    import getpass

    from .audit import RefKind, ref

    name = "".join(c for c in getpass.getuser() if c.isalnum() or c in "._-") or "cli"
    return ref(RefKind.OPERATOR, name[:60])


def _database(args: argparse.Namespace, *, upgrade: bool, make_key: bool = False) -> Any:
    from .cli import _settings
    from .storage.database import Database
    from .storage.totp_sealing import TotpSealer

    settings = _settings(args)
    if make_key and settings.totp_key is not None:
        TotpSealer.load_or_create(settings.totp_key)  # secrets are sealed from the start
    db = Database.from_settings(settings)
    if upgrade:
        db.upgrade()  # the first admin is often the first thing done on a new hub
    else:
        db.require_current_schema()
    return db


def _password(path: Path | None) -> str:
    import getpass

    if path is not None:
        lines = path.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    first = getpass.getpass("Password for the admin (12 characters or more): ")
    if getpass.getpass("Same password again: ") != first:
        raise ValueError("the two passwords differ: run the command again")
    return first


def _create_admin(args: argparse.Namespace) -> int:
    from protocol.base import utcnow

    from .audit import AuditAction, RefKind, append, person_ref, ref
    from .errors import HubError
    from .storage.accounts import Passwords, count_accounts, create_first_admin
    from .storage.homes import create_home, get_home

    try:
        db = _database(args, upgrade=True, make_key=True)
        with db.read_session() as s:
            if count_accounts(s):
                raise HubError(
                    "accounts exist already: the first admin is created only once; "
                    "use 'doorstep hub invite' or the admin page instead"
                )
        password = _password(args.password_file)
        now, operator = utcnow(), _operator()
        with db.session() as s:
            if args.home:
                home = get_home(s, args.home)
                new_home = False
            else:
                home = create_home(s, name=args.home_name, timezone=args.timezone, at=now)
                new_home = True
                append(
                    s,
                    AuditAction.HOME_CREATED,
                    actor=operator,
                    at=now,
                    subjects=[ref(RefKind.HOME, home.id)],
                )
            account = create_first_admin(
                s,
                Passwords(),
                username=args.username,
                password=password,
                at=now,
                display_name=args.display_name,
                home_id=home.id,
            )
            who = person_ref(account.person_id)
            append(s, AuditAction.ACCOUNT_CREATED, actor=operator, at=now, subjects=[who])
            append(
                s,
                AuditAction.ROLE_CHANGED,
                actor=operator,
                at=now,
                subjects=[ref(RefKind.HOME, home.id), who],
                details={"change": "added", "role": "admin"},
            )
            home_id = home.id
    except (HubError, ValueError, OSError) as exc:
        print(f"doorstep: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    made = "new home" if new_home else "home"
    print(f"admin {args.username!r} created (person {account.person_id}); {made} {home_id}")
    return EXIT_OK


def _seal_totp(args: argparse.Namespace) -> int:
    from .errors import HubError
    from .storage.totp_sealing import seal_plain_secrets
    from .webhooks.secrets import seal_secrets

    try:
        db = _database(args, upgrade=False, make_key=True)
        with db.session() as s:
            count = seal_plain_secrets(s)
            hooks = seal_secrets(s)
    except (HubError, OSError) as exc:
        print(f"doorstep: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(
        f"sealed {count} TOTP secret(s) and {hooks.sealed} webhook signing secret(s); "
        "keep the key file with the database backups"
    )
    # The others are sealed and kept; an unreadable one is left for its admin to rotate.
    for message in hooks.unreadable:
        print(f"doorstep: error: skipped: {message}", file=sys.stderr)
    return EXIT_ERROR if hooks.unreadable else EXIT_OK


def _invite(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from protocol.base import utcnow

    from .audit import AuditAction, RefKind, append, ref
    from .errors import HubError
    from .storage.accounts import create_invitation
    from .storage.homes import get_home
    from .storage.models_registry import Role

    if not 1 <= args.valid_days <= 30:
        print("doorstep: error: --valid-days: choose 1 to 30 days", file=sys.stderr)
        return EXIT_ERROR
    try:
        db = _database(args, upgrade=False)
        now, operator = utcnow(), _operator()
        with db.session() as s:
            get_home(s, args.home)
            invitation, token = create_invitation(
                s,
                home_id=args.home,
                role=Role(args.role),
                invited_by=operator,
                at=now,
                valid_for=timedelta(days=args.valid_days),
            )
            append(
                s,
                AuditAction.INVITATION_CREATED,
                actor=operator,
                at=now,
                subjects=[ref(RefKind.HOME, args.home), ref(RefKind.INVITATION, invitation.id)],
                details={"role": args.role, "expires_at": invitation.expires_at.isoformat()},
            )
            expires = invitation.expires_at
    except (HubError, ValueError) as exc:
        print(f"doorstep: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    # Only the token goes to standard output, so a script can capture it.
    print(
        f"invitation for {args.name} as {args.role}, valid until {expires:%Y-%m-%d %H:%M} UTC;\n"
        f"send them the link https://<this hub>/invite#{token} (shown only now)",
        file=sys.stderr,
    )
    print(token)
    return EXIT_OK
