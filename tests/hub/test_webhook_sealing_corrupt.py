"""``doorstep hub seal-secrets`` when a legacy plain webhook secret is corrupt: it names
the subscription and the way out (a rotation), seals the others, keeps the bad value
as it was, and exits non-zero. On SQLite and PostgreSQL, like the other sealing tests."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from doorstep.cli import main
from hub.storage import Database
from hub.storage.totp_sealing import TotpSealer
from hub.webhooks.secrets import SEALED_PREFIX, read_secret, rotate_secret, seal_secrets
from hub.webhooks.subscriptions import add_subscription, get_subscription
from tests.fixtures.database import T0

CORRUPT = "whsec_not*base64!"  # what a hand edit or a truncated restore leaves
GRACE = timedelta(hours=24)
Three = tuple[str, str, str, str, str]  # first, its secret, the bad one, last, its secret


def subscribe(db: Database, partner: str) -> tuple[str, str]:
    with db.session() as s:
        sub, secret = add_subscription(
            s,
            partner=partner,
            url=f"https://{partner.lower()}.example.invalid/hook",
            event_types=["doorstep.ring"],
            home_id=None,
            by="operator:t",
            at=T0,
        )
        return sub.id, secret


def column(db: Database, sub_id: str, name: str = "secret") -> str | None:
    with db.read_session() as s:
        return s.execute(
            text(f"SELECT {name} FROM webhook_subscriptions WHERE id = :id"), {"id": sub_id}
        ).scalar_one()


def corrupt(db: Database, sub_id: str, name: str = "secret") -> None:
    with db.session() as s:
        s.execute(
            text(f"UPDATE webhook_subscriptions SET {name} = :v WHERE id = :id"),
            {"v": CORRUPT, "id": sub_id},
        )


@pytest.fixture
def plain_three(database: Database) -> Three:
    """Three subscriptions written before the hub had a key; the middle one corrupt."""
    first, first_secret = subscribe(database, "Council")
    bad, _ = subscribe(database, "Broken")
    last, last_secret = subscribe(database, "Agency")
    corrupt(database, bad)
    return first, first_secret, bad, last, last_secret


def test_seal_secrets_skips_and_names_a_corrupt_secret_and_seals_the_rest(
    database: Database, plain_three: Three
) -> None:
    first, first_secret, bad, last, last_secret = plain_three
    keyed = Database(database.url, totp_sealer=TotpSealer(secrets.token_bytes(32)))
    try:
        with keyed.session() as s:
            done = seal_secrets(s)
        assert done.sealed == 2
        [message] = done.unreadable
        assert bad in message
        assert f"doorstep hub webhook rotate-secret {bad}" in message
        assert CORRUPT not in message  # never echo a secret, even a broken one
        assert column(keyed, bad) == CORRUPT  # left as it was: nothing lost
        for sub, secret in ((first, first_secret), (last, last_secret)):
            raw = column(keyed, sub)
            assert raw is not None
            assert raw.startswith(SEALED_PREFIX)
            with keyed.read_session() as s:
                assert read_secret(s, sub, raw) == secret

        # The advised way out works with the default grace: the bad secret is dropped.
        with keyed.session() as s:
            new = rotate_secret(s, get_subscription(s, bad), now=T0, grace=GRACE)
        assert column(keyed, bad, "previous_secret") is None
        raw = column(keyed, bad)
        assert raw is not None
        with keyed.read_session() as s:
            assert read_secret(s, bad, raw) == new
        with keyed.session() as s:
            assert seal_secrets(s).unreadable == []
    finally:
        keyed.dispose()


def test_a_corrupt_previous_secret_is_named_as_the_previous_one(database: Database) -> None:
    sub, _ = subscribe(database, "Council")
    with database.session() as s:
        s.execute(
            text("UPDATE webhook_subscriptions SET previous_secret_until = :t WHERE id = :id"),
            {"t": T0 + GRACE, "id": sub},
        )
    corrupt(database, sub, "previous_secret")
    keyed = Database(database.url, totp_sealer=TotpSealer(secrets.token_bytes(32)))
    try:
        with keyed.session() as s:
            done = seal_secrets(s)
        assert done.sealed == 1
        [message] = done.unreadable
        assert message.startswith(f"the previous signing secret of webhook {sub}")
        assert column(keyed, sub, "previous_secret") == CORRUPT
    finally:
        keyed.dispose()


def test_the_command_says_which_to_rotate_seals_the_others_and_fails(
    database: Database,
    plain_three: Three,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, _, bad, last, _ = plain_three
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))  # the key file goes here
    code = main(["hub", "seal-secrets", "--db", database.url])
    captured = capsys.readouterr()
    assert code != 0
    assert "2 webhook signing secret(s)" in captured.out
    assert f"webhook {bad} is unreadable" in captured.err
    assert f"doorstep hub webhook rotate-secret {bad}" in captured.err
    assert "binascii" not in captured.err
    assert "Traceback" not in captured.err
    assert first not in captured.err
    assert last not in captured.err
    for sub in (first, last):
        assert (column(database, sub) or "").startswith(SEALED_PREFIX)  # committed
    assert column(database, bad) == CORRUPT
