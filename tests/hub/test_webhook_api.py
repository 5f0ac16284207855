"""The admin API for partner webhooks: subscriptions (secret shown once), dead letters
and their retry, authorised by ``administer`` and audited (real app, real database)."""

from __future__ import annotations

from typing import Any

from hub.audit import entries
from hub.storage.models_registry import Role
from hub.storage.models_webhooks import DEAD, WebhookDelivery, WebhookOutboxRow
from hub.webhooks.subscriptions import add_subscription
from protocol import utcnow
from tests.web.conftest import (
    Web,
    log_in,
    make_person,
    web,  # noqa: F401  (the fixture)
)

HOOK = "https://partner.example.invalid/doorstep"


# -- helpers, also used by tests/web/test_authorisation_matrix.py ---------------------


def new_subscription(w: Web, home: str | None) -> str:
    with w.rig.db.session() as s:
        sub, _ = add_subscription(
            s,
            partner="Matrix",
            url=HOOK,
            event_types=["doorstep.ring"],
            home_id=home,
            by="operator:test",
            at=utcnow(),
        )
        return sub.id


def new_dead_letter(w: Web, home: str) -> int:
    sub = new_subscription(w, home)
    now = utcnow()
    with w.rig.db.session() as s:
        row = WebhookOutboxRow(
            ce_id=f"dead-{sub}",
            type="doorstep.ring",
            subject="devices/x",
            home_id=home,
            time=now,
            data={"device": "x"},
            created_at=now,
            fanned_out_at=now,
        )
        s.add(row)
        s.flush()
        delivery = WebhookDelivery(
            subscription_id=sub,
            outbox_id=row.id,
            status=DEAD,
            attempts=3,
            next_attempt_at=now,
            last_status=500,
            last_error="HTTP 500",
            created_at=now,
            updated_at=now,
        )
        s.add(delivery)
        s.flush()
        return delivery.id


def matrix_subscription(w: Web, ids: dict[str, str]) -> dict[str, str]:
    return {"subscription_id": new_subscription(w, ids["home"])}


def matrix_dead_letter(w: Web, ids: dict[str, str]) -> dict[str, str]:
    return {"delivery_id": str(new_dead_letter(w, ids["home"]))}


def matrix_body(ids: dict[str, str]) -> dict[str, Any]:
    return {"partner": "Matrix", "url": HOOK, "event_types": ["doorstep.ring"], "home": ids["home"]}


# -- tests ----------------------------------------------------------------------------


def _admin(w: Web, name: str) -> tuple[Any, dict[str, str]]:
    make_person(w, name, Role.ADMIN, w.rig.home)
    return log_in(w, name)


def test_the_secret_is_shown_once_and_the_change_is_audited(web: Web) -> None:  # noqa: F811
    client, csrf = _admin(web, "hookadmin1")
    body = matrix_body({"home": web.rig.home}) | {
        "event_types": ["doorstep.ring", "doorstep.alert.raised"]
    }
    r = client.post("/api/admin/webhooks", headers=csrf, json=body)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"].startswith("whsec_")
    listed = client.get("/api/admin/webhooks").json()
    mine = [x for x in listed if x["id"] == made["id"]]
    assert mine
    assert "secret" not in mine[0]
    assert made["secret"] not in client.get("/api/admin/webhooks").text
    assert mine[0]["event_types"] == ["doorstep.alert.raised", "doorstep.ring"]
    r = client.delete(f"/api/admin/webhooks/{made['id']}", headers=csrf)
    assert r.status_code == 204
    assert all(x["id"] != made["id"] for x in client.get("/api/admin/webhooks").json())
    with web.rig.db.read_session() as s:
        actions = [(e.action, e.subjects) for e in entries(s)]
    assert ("webhook_added", (f"webhook:{made['id']}", f"home:{web.rig.home}")) in [
        (a, tuple(sub)) for a, sub in actions
    ]
    assert "webhook_removed" in [a for a, _ in actions]


def test_bad_urls_and_types_are_refused_with_reasons(web: Web) -> None:  # noqa: F811
    client, csrf = _admin(web, "hookadmin2")
    base = matrix_body({"home": web.rig.home})
    for change, words in (
        ({"url": "http://partner.example.invalid/hook"}, "https://"),
        ({"url": "ftp://partner.example.invalid/hook"}, "https://"),
        ({"url": "https://user:pw@partner.example.invalid/"}, "credentials"),
        ({"event_types": ["doorstep.snapshot"]}, "choose from"),
    ):
        r = client.post("/api/admin/webhooks", headers=csrf, json=base | change)
        assert r.status_code == 422, (change, r.text)
        assert words in r.text
    for url in (
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1:9/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hook",
        "https://localhost/hook",
    ):
        inner = client.post("/api/admin/webhooks", headers=csrf, json=base | {"url": url})
        assert inner.status_code == 422, (url, inner.text)
        assert "DOORSTEP_WEBHOOK_ALLOW_PRIVATE_TARGETS" in inner.text, url


def test_only_admins_of_the_home_and_of_every_home_for_all(web: Web) -> None:  # noqa: F811
    client, csrf = _admin(web, "hookadmin3")
    other = client.post(
        "/api/admin/webhooks", headers=csrf, json=matrix_body({"home": web.rig.other_home})
    )
    assert other.status_code == 403
    everything = client.post(
        "/api/admin/webhooks",
        headers=csrf,
        json=matrix_body({"home": web.rig.home}) | {"home": None},
    )
    assert everything.status_code == 403, "all homes needs administer in every home"
    family, _ = log_in(web, "anna")
    assert family.get("/api/admin/webhooks").status_code == 403
    theirs = new_subscription(web, web.rig.other_home)
    assert client.delete(f"/api/admin/webhooks/{theirs}", headers=csrf).status_code == 404
    assert all(x["id"] != theirs for x in client.get("/api/admin/webhooks").json())


def test_dead_letters_are_listed_and_can_be_sent_again(web: Web) -> None:  # noqa: F811
    client, csrf = _admin(web, "hookadmin4")
    mine = new_dead_letter(web, web.rig.home)
    theirs = new_dead_letter(web, web.rig.other_home)
    listed = client.get("/api/admin/webhooks/dead-letters").json()
    ids = {d["delivery"] for d in listed}
    assert mine in ids
    assert theirs not in ids
    letter = next(d for d in listed if d["delivery"] == mine)
    assert (letter["last_status"], letter["attempts"]) == (500, 3)
    path = f"/api/admin/webhooks/dead-letters/{mine}/retry"
    r = client.post(path, headers=csrf)
    assert r.status_code == 200, r.text
    assert client.post(path, headers=csrf).status_code == 409, "no longer a dead letter"
    assert (
        client.post(f"/api/admin/webhooks/dead-letters/{theirs}/retry", headers=csrf).status_code
        == 404
    )
    with web.rig.db.read_session() as s:
        d = s.get(WebhookDelivery, mine)
        assert d is not None
        assert (d.status, d.attempts) == ("pending", 0)
        assert any(e.action == "webhook_retried" for e in entries(s))


def test_a_rotation_shows_the_new_secret_once_and_is_audited(web: Web) -> None:  # noqa: F811
    client, csrf = _admin(web, "hookadmin5")
    made = client.post(
        "/api/admin/webhooks", headers=csrf, json=matrix_body({"home": web.rig.home})
    ).json()
    r = client.post(f"/api/admin/webhooks/{made['id']}/rotate-secret", headers=csrf)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != made["secret"]
    assert rotated["previous_secret_until"] is not None  # the old one signs for a while
    listed = client.get("/api/admin/webhooks").text
    assert rotated["secret"] not in listed
    assert made["secret"] not in listed
    missing = client.post("/api/admin/webhooks/nope/rotate-secret", headers=csrf)
    assert missing.status_code == 404
    with web.rig.db.read_session() as s:
        rotations = [e for e in entries(s) if e.action == "key_changed"]
    assert [tuple(e.subjects) for e in rotations] == [
        (f"webhook:{made['id']}", f"home:{web.rig.home}")
    ]
    assert rotations[0].details["change"] == "webhook_secret_rotated"
