"""Hardened partner webhooks on a real database (SQLite and PostgreSQL) and real HTTP:
signing secrets sealed at rest, rotated with a grace period in which both sign, and
never sent into the hub's own network unless the operator allows it -- at creation and
again at every delivery, because a name can be re-pointed."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, text

from doorstep.cli import main
from hub.audit import entries
from hub.errors import InvalidValue
from hub.storage import Database
from hub.storage.models_webhooks import WebhookDelivery, WebhookSubscription
from hub.storage.totp_sealing import TotpSealer
from hub.webhooks.deliveries import Claimed, claim_due
from hub.webhooks.outbox import capture_events, fan_out
from hub.webhooks.secrets import (
    SEALED_PREFIX,
    WebhookSecretError,
    read_secret,
    rotate_secret,
    seal_plain_secrets,
)
from hub.webhooks.settings import WebhookSettings
from hub.webhooks.signing import verify
from hub.webhooks.subscriptions import add_subscription, check_url
from hub.webhooks.targets import Resolver
from hub.webhooks.worker import WebhookWorker
from tests.fixtures.database import T0, add_device, ring

PUBLIC = "93.184.215.14"  # stands for a partner on the internet (never connected to)
SETTING = "DOORSTEP_WEBHOOK_ALLOW_PRIVATE_TARGETS"


# -- a receiver, a resolver, and one delivery pass ----------------------------------------


class Receiver:
    """A partner endpoint on 127.0.0.1 that answers 200 and keeps what it got."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def keyed(database: Database) -> Iterator[Database]:
    """The same database, opened by a hub that has a sealing key."""
    db = Database(database.url, totp_sealer=TotpSealer(secrets.token_bytes(32)))
    yield db
    db.dispose()


def resolver(table: dict[str, list[str]]) -> Resolver:
    """Names resolve to what the test says (what a re-pointed DNS record would give)."""

    def resolve(host: str, _port: int) -> list[str]:
        if host in table:
            return table[host]
        if host.replace(".", "").isdigit() or ":" in host:
            return [host]
        raise OSError(f"{host} does not resolve")

    return resolve


# The operator's opt-in, as the delivery tests that use 127.0.0.1 need it.
ALLOWED = WebhookSettings(allow_private_targets=True, timeout_s=5)


def subscribe(db: Database, url: str, *, allow_private: bool = True, **kw: Any) -> tuple[str, str]:
    with db.session() as s:
        sub, secret = add_subscription(
            s,
            partner="Council",
            url=url,
            event_types=["doorstep.ring"],
            home_id=None,
            by="operator:t",
            at=T0,
            allow_private=allow_private,
            **kw,
        )
        return sub.id, secret


def ring_once(db: Database, seq: int = 1) -> None:
    from hub.storage.events import store_events

    device = ring_device(db)
    with db.session() as s:
        events = [ring(device, seq)]
        store_events(s, events, T0)
        capture_events(s, events)


def ring_device(db: Database) -> str:
    with db.read_session() as s:
        found = s.execute(text("SELECT id FROM devices")).scalars().first()
    return str(found) if found else add_device(db)[1]


def deliver(
    db: Database,
    settings: WebhookSettings,
    *,
    at: datetime,
    resolve: Resolver | None = None,
) -> list[tuple[Claimed, Any]]:
    """One pass, as the worker makes it: fan out, claim (opening the secrets), send."""
    with db.session() as s:
        fan_out(s, now=at)
    with db.session() as s:
        jobs = claim_due(s, now=at, lease_s=15, limit=10)
    options = {"resolve": resolve} if resolve else {}
    worker = WebhookWorker(db, settings, clock=lambda: at, **options)
    done = []
    for job in jobs:
        result = worker.send(job)
        worker._record(job, result)
        done.append((job, result))
    return done


def stored(db: Database, sub_id: str, column: str = "secret") -> str | None:
    with db.read_session() as s:
        return s.execute(
            text(f"SELECT {column} FROM webhook_subscriptions WHERE id = :id"), {"id": sub_id}
        ).scalar_one()


def verified(secret: str, got: tuple[dict[str, str], bytes], at: datetime) -> bool:
    return verify(secret, got[0], got[1], now=at.timestamp())


# -- sealed at rest -----------------------------------------------------------------------


def test_the_column_holds_only_the_sealed_secret_and_delivery_verifies(
    keyed: Database, receiver: Receiver
) -> None:
    sub, secret = subscribe(keyed, f"http://127.0.0.1:{receiver.port}/hook")
    raw = stored(keyed, sub)
    assert raw is not None
    assert raw.startswith(SEALED_PREFIX)
    assert secret not in raw
    assert secret.removeprefix("whsec_") not in raw  # not even the key's base64
    ring_once(keyed)
    [(_job, result)] = deliver(keyed, ALLOWED, at=T0)
    assert result.ok, result.error
    [got] = receiver.got
    assert verified(secret, got, T0), "the partner's copy of the secret checks the request"
    assert len(got[0]["webhook-signature"].split()) == 1
    assert stored(keyed, sub) == raw  # already sealed: left alone


def test_a_plain_secret_from_before_the_key_still_signs_and_gets_sealed(
    database: Database, keyed: Database, receiver: Receiver
) -> None:
    sub, secret = subscribe(database, f"http://127.0.0.1:{receiver.port}/hook")
    assert stored(database, sub) == secret  # no key yet: as before
    ring_once(database)
    [(_, result)] = deliver(keyed, ALLOWED, at=T0)
    assert result.ok, result.error
    assert verified(secret, receiver.got[0], T0)
    raw = stored(keyed, sub)
    assert raw is not None
    assert raw.startswith(SEALED_PREFIX)
    assert secret not in raw
    with keyed.read_session() as s:
        assert read_secret(s, sub, raw) == secret


def test_seal_plain_secrets_seals_what_was_written_before_the_key(
    database: Database, keyed: Database
) -> None:
    sub, secret = subscribe(database, "https://partner.example.invalid/hook")
    with keyed.session() as s:
        assert seal_plain_secrets(s) == 1
    with keyed.session() as s:
        assert seal_plain_secrets(s) == 0
    raw = stored(keyed, sub)
    assert raw is not None
    assert secret not in raw
    with database.session() as s, pytest.raises(WebhookSecretError, match="no sealing key"):
        seal_plain_secrets(s)


def test_a_wrong_or_missing_key_is_a_clear_error_and_sends_nothing(
    database: Database, keyed: Database, receiver: Receiver
) -> None:
    sub, _ = subscribe(keyed, f"http://127.0.0.1:{receiver.port}/hook")
    ring_once(keyed)
    other = Database(database.url, totp_sealer=TotpSealer(secrets.token_bytes(32)))
    try:
        [(_job, result)] = deliver(other, ALLOWED, at=T0)
    finally:
        other.dispose()
    assert not result.ok
    assert "does not open with this hub's key" in (result.error or "")
    assert f"rotate-secret {sub}" in (result.error or "")  # says how to recover
    assert receiver.got == []
    with database.read_session() as s:
        delivery = s.scalars(select(WebhookDelivery)).one()
        assert delivery.status == "pending"
        assert delivery.attempts == 1
        assert "does not open" in (delivery.last_error or "")
    raw = stored(database, sub)
    assert raw is not None
    with database.read_session() as s, pytest.raises(WebhookSecretError, match="has no key"):
        read_secret(s, sub, raw)


def test_a_sealed_secret_moved_to_another_subscription_does_not_open(keyed: Database) -> None:
    first, _ = subscribe(keyed, "https://one.example.invalid/hook")
    second, _ = subscribe(keyed, "https://two.example.invalid/hook")
    raw = stored(keyed, first)
    assert raw is not None
    with keyed.read_session() as s, pytest.raises(WebhookSecretError, match="does not open"):
        read_secret(s, second, raw)


# -- rotation -----------------------------------------------------------------------------


def test_both_secrets_sign_during_the_grace_period_and_only_the_new_one_after(
    keyed: Database, receiver: Receiver
) -> None:
    sub, old = subscribe(keyed, f"http://127.0.0.1:{receiver.port}/hook")
    with keyed.session() as s:
        row = s.get(WebhookSubscription, sub)
        assert row is not None
        new = rotate_secret(s, row, now=T0, grace=timedelta(hours=24))
    assert new != old
    previous = stored(keyed, sub, "previous_secret")
    assert previous is not None
    assert previous.startswith(SEALED_PREFIX)
    assert old not in previous

    during = T0 + timedelta(hours=23)
    ring_once(keyed, 1)
    [(_, result)] = deliver(keyed, ALLOWED, at=during)
    assert result.ok, result.error
    got = receiver.got[-1]
    assert len(got[0]["webhook-signature"].split()) == 2
    assert verified(new, got, during)
    assert verified(old, got, during)

    after = T0 + timedelta(hours=24, seconds=1)
    ring_once(keyed, 2)
    [(_, result)] = deliver(keyed, ALLOWED, at=after)
    assert result.ok, result.error
    got = receiver.got[-1]
    assert len(got[0]["webhook-signature"].split()) == 1
    assert verified(new, got, after)
    assert not verified(old, got, after)
    assert stored(keyed, sub, "previous_secret") is None  # the old secret is forgotten


def test_rotate_secret_command_prints_it_once_audits_and_honours_the_grace(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    sub, old = subscribe(database, "https://partner.example.invalid/hook")
    db = ["--db", database.url]
    code = main(["hub", "webhook", "rotate-secret", sub, "--grace-hours", "0", *db])
    out = capsys.readouterr().out
    assert code == 0
    shown = json.loads(out[: out.rindex("}") + 1])
    assert shown["secret"].startswith("whsec_")
    assert shown["secret"] != old
    assert shown["old_secret_signs_until"] is None  # grace 0: the old one stops at once
    with database.read_session() as s:
        row = s.get(WebhookSubscription, sub)
        assert row is not None
        assert row.previous_secret is None
        assert read_secret(s, sub, row.secret) == shown["secret"]
        rotated = [e for e in entries(s) if e.action == "key_changed"]
    assert [tuple(e.subjects) for e in rotated] == [(f"webhook:{sub}",)]
    code = main(["hub", "webhook", "rotate-secret", "nope", *db])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


# -- private addresses (SSRF) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://metadata.example/x", "link-local"),  # a name for the metadata service
        ("https://10.0.0.7/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://100.64.0.1/hook", "not public"),  # shared (CGNAT) space
        ("https://both.example/hook", "private"),  # one public and one private address
    ],
)
def test_targets_in_the_hubs_own_network_are_refused_by_default(url: str, words: str) -> None:
    resolve = resolver(
        {
            "localhost": ["127.0.0.1", "::1"],
            "metadata.example": ["169.254.169.254"],
            "both.example": [PUBLIC, "10.9.9.9"],
        }
    )
    with pytest.raises(InvalidValue, match=words) as refused:
        check_url(url, resolve=resolve)
    assert SETTING in str(refused.value), "the message says how an operator allows it"
    assert check_url(url, allow_private=True, resolve=resolve) == url


def test_https_is_required_except_to_private_targets_the_operator_allows() -> None:
    resolve = resolver({"partner.example": [PUBLIC], "relay.lan": ["192.168.1.20"]})
    assert check_url("https://partner.example/hook", resolve=resolve)
    assert check_url("https://not-yet.example/hook", resolve=resolve)  # delivery re-checks
    for url, allow in (
        ("http://partner.example/hook", True),  # plain http to the internet: never
        ("http://partner.example/hook", False),
        ("http://not-yet.example/hook", True),  # cannot show it stays inside
    ):
        with pytest.raises(InvalidValue, match="must use https://"):
            check_url(url, allow_private=allow, resolve=resolve)
    with pytest.raises(InvalidValue, match=SETTING):  # inside, but not allowed
        check_url("http://relay.lan/hook", resolve=resolve)
    assert check_url("http://relay.lan/hook", allow_private=True, resolve=resolve)


def test_delivery_checks_again_when_the_name_is_re_pointed_inside(
    database: Database, receiver: Receiver
) -> None:
    url = f"https://partner.example:{receiver.port}/hook"
    subscribe(database, url, allow_private=False, resolve=resolver({"partner.example": [PUBLIC]}))
    ring_once(database)
    moved = resolver({"partner.example": ["127.0.0.1"]})  # DNS now points at the hub itself
    [(_, result)] = deliver(database, WebhookSettings(timeout_s=5), at=T0, resolve=moved)
    assert not result.ok
    assert "refused" in (result.error or "")
    assert "127.0.0.1 (loopback)" in (result.error or "")
    assert receiver.got == [], "nothing reached the inside address"
    with database.read_session() as s:
        delivery = s.scalars(select(WebhookDelivery)).one()
    assert "loopback" in (delivery.last_error or "")  # an admin sees why in dead letters


def test_delivery_connects_to_the_address_it_checked(
    database: Database, receiver: Receiver
) -> None:
    """With the operator's opt-in, the connection goes to the resolved, checked address
    (the name itself is never looked up again by the HTTP client)."""
    resolve: Callable[[str, int], list[str]] = resolver({"relay.lan": ["127.0.0.1"]})
    url = f"http://relay.lan:{receiver.port}/hook"
    _, secret = subscribe(database, url, resolve=resolve)
    ring_once(database)
    [(_, result)] = deliver(database, ALLOWED, at=T0, resolve=resolve)
    assert result.ok, result.error
    assert verified(secret, receiver.got[0], T0)
    assert receiver.got[0][0]["host"] == f"relay.lan:{receiver.port}"
