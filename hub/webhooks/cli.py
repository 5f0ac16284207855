"""``doorstep hub webhook ...``: partner subscriptions and dead letters from the shell.

    $ doorstep hub webhook add --partner "County council" --url https://council.example/hook \\
        --event-type doorstep.ring --event-type doorstep.alert.raised [--home HOME_ID]
    (prints the subscription and its secret, once)
    $ doorstep hub webhook list
    $ doorstep hub webhook remove SUBSCRIPTION_ID
    $ doorstep hub webhook rotate-secret SUBSCRIPTION_ID [--grace-hours 24]
    (prints the new secret, once; the old one also signs until the grace period ends)
    $ doorstep hub webhook dead-letters
    $ doorstep hub webhook retry DELIVERY_ID

Every change is audited with the operator (the login name) as the actor.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def add_webhook_commands(
    hub: argparse._SubParsersAction,
    db_option: Callable[[argparse.ArgumentParser], None],
    guarded: Callable[[Handler], Handler],
) -> None:
    from .catalogue import EVENT_TYPES

    group = hub.add_parser("webhook", help="partner webhooks: subscriptions and dead letters")
    group.set_defaults(handler=lambda _a: group.print_help() or 2)
    sub = group.add_subparsers(dest="webhook_command", metavar="COMMAND")

    add = sub.add_parser(
        "add",
        help="subscribe a partner (prints its secret once)",
        epilog="event types:\n"
        + "\n".join(f"  {name:26} {t.description}" for name, t in EVENT_TYPES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("--partner", required=True, help="who receives it, e.g. 'County council'")
    add.add_argument("--url", required=True, help="https:// endpoint of the partner")
    add.add_argument(
        "--event-type",
        dest="event_types",
        action="append",
        required=True,
        choices=sorted(EVENT_TYPES),
        help="repeat for several",
    )
    add.add_argument("--home", default=None, help="only this home's events (default: all)")
    commands: list[tuple[argparse.ArgumentParser, Handler]] = [(add, _add)]
    listing = sub.add_parser("list", help="list subscriptions (never their secrets)")
    commands.append((listing, _list))
    remove = sub.add_parser("remove", help="remove a subscription and its deliveries")
    remove.add_argument("subscription_id")
    commands.append((remove, _remove))
    dead = sub.add_parser("dead-letters", help="deliveries that gave up")
    commands.append((dead, _dead))
    retry = sub.add_parser("retry", help="send a dead letter again")
    retry.add_argument("delivery_id", type=int)
    commands.append((retry, _retry))
    rotate = sub.add_parser(
        "rotate-secret", help="a new signing secret (printed once); the old one signs a while"
    )
    rotate.add_argument("subscription_id")
    rotate.add_argument(
        "--grace-hours",
        type=float,
        default=None,
        help="hours the old secret also signs (default DOORSTEP_WEBHOOK_ROTATION_GRACE_H, 24)",
    )
    commands.append((rotate, _rotate))
    for parser, handler in commands:
        db_option(parser)
        parser.set_defaults(handler=guarded(handler))


def _db(args: argparse.Namespace) -> Any:
    from ..cli import _database

    return _database(args)


def _audit(s: Any, action: Any, sub_id: str, **details: Any) -> None:
    from protocol.base import utcnow

    from ..audit import RefKind, append, ref
    from ..cli_accounts import _operator

    subjects = [ref(RefKind.WEBHOOK, sub_id)]
    if details.get("home"):
        subjects.append(ref(RefKind.HOME, details["home"]))
    append(s, action, actor=_operator(), at=utcnow(), subjects=subjects, details=details)


def _add(args: argparse.Namespace) -> int:
    from protocol.base import utcnow

    from ..audit import AuditAction
    from ..cli_accounts import _operator
    from ..storage.homes import get_home
    from .settings import WebhookSettings
    from .subscriptions import add_subscription, describe

    allow_private = WebhookSettings().allow_private_targets
    db = _db(args)
    with db.session() as s:
        if args.home is not None:
            get_home(s, args.home)  # NotFound names it
        sub, secret = add_subscription(
            s,
            partner=args.partner,
            url=args.url,
            event_types=args.event_types,
            home_id=args.home,
            by=_operator(),
            at=utcnow(),
            allow_private=allow_private,
        )
        _audit(
            s,
            AuditAction.WEBHOOK_ADDED,
            sub.id,
            home=sub.home_id,
            event_types=list(sub.event_types),
            url=sub.url,
        )
        print(json.dumps(describe(sub) | {"secret": secret}, indent=2))
    print("Give the secret to the partner now: it is not shown again.")
    _warn_if_unsealed(sub.secret)
    return 0


def _warn_if_unsealed(stored: str) -> None:
    import sys

    from .secrets import is_sealed

    if not is_sealed(stored):
        print(
            "doorstep: warning: this hub has no sealing key yet, so the secret is stored in "
            "the clear; run 'doorstep hub seal-secrets' to make the key and seal it",
            file=sys.stderr,
        )


def _list(args: argparse.Namespace) -> int:
    from .subscriptions import describe, list_subscriptions

    with _db(args).read_session() as s:
        print(json.dumps([describe(x) for x in list_subscriptions(s)], indent=2))
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ..audit import AuditAction
    from .subscriptions import remove_subscription

    with _db(args).session() as s:
        sub = remove_subscription(s, args.subscription_id)
        _audit(s, AuditAction.WEBHOOK_REMOVED, args.subscription_id, home=sub.home_id)
    print(f"removed {args.subscription_id}")
    return 0


def _dead(args: argparse.Namespace) -> int:
    from .deliveries import dead_letters

    with _db(args).read_session() as s:
        print(json.dumps(dead_letters(s, homes=None), indent=2))
    return 0


def _retry(args: argparse.Namespace) -> int:
    from protocol.base import utcnow

    from ..audit import AuditAction
    from .deliveries import delivery_home, retry_dead

    with _db(args).session() as s:
        sub_id, home = delivery_home(s, args.delivery_id)
        retry_dead(s, args.delivery_id, now=utcnow())
        _audit(s, AuditAction.WEBHOOK_RETRIED, sub_id, home=home, delivery=args.delivery_id)
    print(f"delivery {args.delivery_id} is queued again")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from protocol.base import utcnow

    from ..audit import AuditAction
    from ..errors import InvalidValue
    from .secrets import rotate_secret
    from .settings import WebhookSettings
    from .subscriptions import get_subscription

    hours = args.grace_hours
    if hours is None:
        hours = WebhookSettings().rotation_grace_h
    if not 0 <= hours <= 24 * 30:
        raise InvalidValue(f"--grace-hours {hours}: give 0 to 720")
    now = utcnow()
    with _db(args).session() as s:
        sub = get_subscription(s, args.subscription_id)
        secret = rotate_secret(s, sub, now=now, grace=timedelta(hours=hours))
        until = sub.previous_secret_until
        _audit(
            s,
            AuditAction.KEY_CHANGED,
            sub.id,
            home=sub.home_id,
            change="webhook_secret_rotated",
            old_secret_signs_until=until.isoformat() if until else None,
        )
    shown = {"id": sub.id, "secret": secret, "old_secret_signs_until": until and until.isoformat()}
    print(json.dumps(shown, indent=2))
    print("Give the new secret to the partner now: it is not shown again.")
    _warn_if_unsealed(sub.secret)
    return 0
