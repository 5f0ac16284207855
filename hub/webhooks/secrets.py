"""Webhook signing secrets at rest: sealed with the hub's key, and rotated with overlap.

Whoever holds a subscription's secret can sign requests its partner will trust, so the
column keeps it sealed (``hub.storage.sealing``, AES-256-GCM, bound to the
subscription id): ``whsealed_`` + 80 characters. A secret written before the hub had
a key is plain ``whsec_...``; it still signs, and is sealed the next time it is used
(or by ``doorstep hub seal-secrets``, which skips and names one that does not decode).

A rotation makes a new secret and keeps the old one for a grace period, during which
every request carries both signatures (Standard Webhooks: space-separated in
``webhook-signature``), so the partner can switch keys without missing a request.

    secret = rotate_secret(s, sub, now=now, grace=timedelta(hours=24))  # shown once
    signing_secrets(s, sub, now=now)  # -> [new] or [new, old] during the grace period
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..storage.models_webhooks import WebhookSubscription
from ..storage.sealing import SealError, sealer_of
from .signing import PREFIX, new_secret

log = logging.getLogger(__name__)

SEALED_PREFIX = "whsealed_"


class WebhookSecretError(SealError):
    """A sealed signing secret that this hub cannot open (no key, wrong key, tampered)."""


def _binding(sub_id: str) -> bytes:
    return f"webhook-secret:{sub_id}".encode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def _unreadable(sub_id: str, what: str = "signing secret") -> str:
    return (
        f"the {what} of webhook {sub_id} is unreadable (not whsec_ and base64): run "
        f"'doorstep hub webhook rotate-secret {sub_id}' and give the partner the new secret"
    )


def store_secret(session: Session, sub_id: str, secret: str) -> str:
    """What to keep in the column: sealed when the database has a key, else as given."""
    sealer = sealer_of(session)
    if sealer is None or is_sealed(secret):
        return secret
    try:
        raw = base64.b64decode(secret.removeprefix(PREFIX))
    except (binascii.Error, ValueError):
        # A hand-edited or truncated legacy value: name it, never show it.
        raise WebhookSecretError(_unreadable(sub_id)) from None
    return SEALED_PREFIX + sealer.seal_bytes(raw, bound_to=_binding(sub_id))


def read_secret(session: Session, sub_id: str, stored: str) -> str:
    """The ``whsec_`` secret behind a column value, sealed or (from before the key) plain."""
    if not is_sealed(stored):
        return stored
    sealer = sealer_of(session)
    if sealer is None:
        raise WebhookSecretError(
            f"the signing secret of webhook {sub_id} is encrypted but this hub has no key: "
            "set DOORSTEP_HUB_TOTP_KEY to the key file (default <data_dir>/keys/totp.key)"
        )
    try:
        raw = sealer.open_bytes(stored.removeprefix(SEALED_PREFIX), bound_to=_binding(sub_id))
    except SealError:
        raise WebhookSecretError(
            f"the signing secret of webhook {sub_id} does not open with this hub's key: "
            "restore the key file (DOORSTEP_HUB_TOTP_KEY), or run 'doorstep hub webhook "
            f"rotate-secret {sub_id} --grace-hours 0' and give the partner the new secret"
        ) from None
    return PREFIX + base64.b64encode(raw).decode()


def signing_secrets(session: Session, sub: WebhookSubscription, *, now: datetime) -> list[str]:
    """The secrets to sign with now: the current one, and the old one during its grace.

    Tidies as it reads (``session`` must be a write session): a plain secret is sealed
    when the hub has a key, and an old secret past its grace period is forgotten.
    """
    current = read_secret(session, sub.id, sub.secret)
    if not is_sealed(sub.secret) and sealer_of(session) is not None:
        sub.secret = store_secret(session, sub.id, current)
    found = [current]
    if sub.previous_secret is not None:
        until = sub.previous_secret_until
        if until is None or until <= now:
            sub.previous_secret = sub.previous_secret_until = None
        else:
            try:
                found.append(read_secret(session, sub.id, sub.previous_secret))
            except (WebhookSecretError, binascii.Error, ValueError):
                # Only the old one is lost: the new one still signs.
                log.warning("the previous secret of webhook %s does not open; skipped", sub.id)
            if not is_sealed(sub.previous_secret):
                sub.previous_secret = store_secret(session, sub.id, sub.previous_secret)
    return found


def rotate_secret(
    session: Session, sub: WebhookSubscription, *, now: datetime, grace: timedelta
) -> str:
    """A new secret for ``sub`` (returned once); the current one also signs until
    ``now + grace`` (a zero grace drops it at once). An older previous secret goes."""
    secret = new_secret()
    previous: str | None = None
    if grace > timedelta(0):
        try:  # kept only if it still opens (a rotation is how a lost key is recovered)
            previous = store_secret(session, sub.id, read_secret(session, sub.id, sub.secret))
        except (WebhookSecretError, binascii.Error, ValueError):
            previous = None
    sub.previous_secret = previous
    sub.previous_secret_until = now + grace if previous else None
    sub.secret = store_secret(session, sub.id, secret)
    session.flush()
    return secret


@dataclass
class Sealing:
    """What ``seal_secrets`` did: how many it sealed, and why it left others alone."""

    sealed: int = 0
    unreadable: list[str] = field(default_factory=list)  # one message per skipped secret


def seal_secrets(session: Session) -> Sealing:
    """Seal every webhook secret stored before the key existed. A plain secret that does
    not decode is left as it is (nothing is lost) and reported, naming its subscription
    and the way out: a rotation (``rotate_secret`` drops an old secret it cannot read)."""
    if sealer_of(session) is None:
        raise WebhookSecretError("no sealing key: build the Database with totp_sealer= first")
    done = Sealing()
    for sub in session.scalars(select(WebhookSubscription)):
        for column in ("secret", "previous_secret"):
            value = getattr(sub, column)
            if value is None or is_sealed(value):
                continue
            try:
                setattr(sub, column, store_secret(session, sub.id, value))
            except WebhookSecretError:
                what = (
                    "previous signing secret" if column == "previous_secret" else "signing secret"
                )
                done.unreadable.append(_unreadable(sub.id, what))
                continue
            done.sealed += 1
    session.flush()
    return done


def seal_plain_secrets(session: Session) -> int:
    """Seal every webhook secret stored before the key existed; returns how many (an
    unreadable one is skipped with a warning: ``seal_secrets`` tells which)."""
    done = seal_secrets(session)
    for message in done.unreadable:
        log.warning("%s", message)
    return done.sealed
