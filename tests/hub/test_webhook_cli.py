"""``doorstep hub webhook``: add (secret printed once), list, remove, dead letters and
retry, each change audited with the operator as actor (real command, real database)."""

from __future__ import annotations

import json

from doorstep.cli import main
from hub.audit import entries
from hub.storage.models_webhooks import DEAD, WebhookDelivery, WebhookOutboxRow
from hub.webhooks.deliveries import counts
from protocol import utcnow
from tests.fixtures.database import add_device


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _dead_letter(db, subscription: str) -> int:
    now = utcnow()
    with db.session() as s:
        row = WebhookOutboxRow(
            ce_id="ce-1", type="doorstep.ring", subject="devices/x", home_id=None,
            time=now, data={}, created_at=now, fanned_out_at=now,
        )  # fmt: skip
        s.add(row)
        s.flush()
        delivery = WebhookDelivery(
            subscription_id=subscription, outbox_id=row.id, status=DEAD, attempts=12,
            next_attempt_at=now, created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(delivery)
        s.flush()
        return delivery.id


def test_add_list_remove_and_retry(database, capsys) -> None:
    home, _ = add_device(database)
    db = ("--db", database.url)
    code, out, _ = _run(
        capsys,
        "hub", "webhook", "add", "--partner", "Council", "--url", "https://council.example.invalid/h",
        "--event-type", "doorstep.ring", "--home", home, *db,
    )  # fmt: skip
    assert code == 0
    made = json.loads(out[: out.rindex("}") + 1])
    assert made["secret"].startswith("whsec_")
    code, out, _ = _run(capsys, "hub", "webhook", "list", *db)
    assert code == 0
    assert [s["id"] for s in json.loads(out)] == [made["id"]]
    assert made["secret"] not in out
    code, _, err = _run(
        capsys,
        "hub", "webhook", "add", "--partner", "X", "--url", "http://council.example.invalid/h",
        "--event-type", "doorstep.ring", *db,
    )  # fmt: skip
    assert code == 2
    assert "https://" in err
    code, _, err = _run(capsys, "hub", "webhook", "retry", "12345", *db)
    assert code == 2
    assert "does not exist" in err
    dead = _dead_letter(database, made["id"])
    code, out, _ = _run(capsys, "hub", "webhook", "dead-letters", *db)
    assert code == 0
    assert [d["delivery"] for d in json.loads(out)] == [dead]
    code, out, _ = _run(capsys, "hub", "webhook", "retry", str(dead), *db)
    assert code == 0
    with database.read_session() as s:
        assert counts(s) == {"pending": 1}
    code, _, _ = _run(capsys, "hub", "webhook", "remove", made["id"], *db)
    assert code == 0
    with database.read_session() as s:
        actions = [e.action for e in entries(s)]
        assert counts(s) == {}
    assert actions[-3:] == ["webhook_added", "webhook_retried", "webhook_removed"]
