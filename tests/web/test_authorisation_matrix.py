"""Every route x every role x own home / another home: no unauthorised success.

The expected right of each route is written here (not read from the app); whether a
person holds it in a home comes from ``hub.policy`` (the one table of who may do what).
The routes come from the app itself, so a new route without an entry here fails.
A snapshot seen by a telecare officer through a grant must be audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from hub.audit import entries
from hub.policy import Permission, permissions
from hub.storage import add_membership, create_person, events_of, snapshots_for_event
from hub.storage.alerts import raise_alert
from hub.storage.devices import assign_home
from hub.storage.models_commands import AlertKind
from hub.storage.models_registry import Grant, Role
from hub.storage.visits import add_window
from protocol import utcnow
from tests.web.conftest import PASSWORD, Web, log_in, make_person, wait_online

P = Permission
Ids = dict[str, str]


@dataclass(frozen=True)
class Rule:
    """Who may call a route.

    scope "home": one of ``rights`` in the home the path's resource belongs to;
    "any_home": one of ``rights`` in at least one home; "self": any session (the answer
    is about the caller only); "public": no session at all.
    """

    scope: str
    rights: tuple[Permission, ...] = ()
    body: Callable[[Ids], dict[str, Any]] | None = None
    query: Callable[[Ids], dict[str, str]] | None = None
    # Makes a fresh thing to act on (for routes that delete or change it); returns ids.
    prepare: Callable[[Web, Ids], Ids] | None = None
    call: bool = True  # False: never called with a session (endless stream; ends the session)


def _fresh_window(web: Web, ids: Ids) -> Ids:
    with web.rig.db.session() as s:
        window = add_window(
            s,
            home_id=ids["home"],
            carer_id=ids["carer"],
            agency="",
            weekday=0,
            start=utcnow().time(),
            end=(utcnow() + timedelta(minutes=5)).time(),
            tolerance_min=0,
            created_by=ids["carer"],
            at=utcnow(),
        )
        return {"window_id": window.id}


def _fresh_member(web: Web, ids: Ids) -> Ids:
    with web.rig.db.session() as s:
        person = create_person(s, display_name="Temp", at=utcnow()).id
        add_membership(
            s,
            person_id=person,
            home_id=ids["home"],
            role=Role.CARER,
            at=utcnow(),
            grants=(Grant.MAY_UNLOCK,),
        )
    return {"person_id": person, "role": "carer"}


def _ha_opted_in(web: Web, ids: Ids) -> Ids:
    """The door opted in to Home Assistant, so opting out has something to remove."""
    from hub.homeassistant.store import set_link

    with web.rig.db.session() as s:
        set_link(s, ids["device"], person_id=None, share_snapshots=False, at=utcnow())
    return {}


def _fresh_approval(web: Web, ids: Ids) -> Ids:
    """A carer's check-in waiting for the family's approval (issue 9)."""
    from hub.storage.visit_records import add_approval

    with web.rig.db.session() as s:
        approval = add_approval(
            s,
            home_id=ids["home"],
            window_id=ids["window_id"],
            carer_id=ids["carer"],
            at=utcnow(),
            expires_at=utcnow() + timedelta(days=1),
        )
    return {"approval_id": approval.id}


def _fresh_escalation(web: Web, ids: Ids) -> Ids:
    """A running escalation of a ring at the door that has reached nobody yet (issue 9)."""
    import uuid

    from hub.storage.care import start_escalation

    with web.rig.db.session() as s:
        esc = start_escalation(
            s,
            event_id=str(uuid.uuid4()),
            home_id=ids["home"],
            device_id=ids["device"],
            snapshot_id=ids["snapshot_id"],
            ring_at=utcnow(),
            plan=[],
            step_timeout_s=60,
            telecare_may_unlock=True,
            first_due_at=utcnow() + timedelta(days=1),
        )
        assert esc is not None
        return {"escalation_id": esc.id, "event_id": esc.event_id}


def _fresh_box(web: Web, ids: Ids) -> Ids:
    """A break-glass at the door opened by somebody else (issue 9)."""
    from hub.storage.care import open_box

    with web.rig.db.session() as s:
        box = open_box(
            s,
            home_id=ids["home"],
            device_id=ids["device"],
            person_id="someone-else",
            reason="matrix: an emergency opened by another officer",
            at=utcnow(),
            expires_at=utcnow() + timedelta(minutes=15),
        )
        return {"break_glass_id": box.id}


def _fresh_photo(web: Web, ids: Ids) -> Ids:
    """The home's carer has a photo there, given with their consent (issue 9)."""
    from hub.carer_photos import PhotoConsent, put_photo
    from hub.storage.models_carer_photos import PhotoConsentBy
    from tests.hub.test_carer_photos import photo

    with web.rig.db.session() as s:
        made = put_photo(
            s,
            ids["home"],
            ids["carer"],
            photo(64, 64),
            PhotoConsent(consent=True),
            consent_by=PhotoConsentBy.CARER,
            by=ids["carer"],
            at=utcnow(),
        )
        return {"photo_id": made.id}


def _photo_body(_: Ids) -> dict[str, Any]:
    import base64

    from tests.hub.test_carer_photos import STATEMENT, photo

    return {"image": base64.b64encode(photo(64, 64)).decode(), "consent": True,
            "statement": STATEMENT}  # fmt: skip


def _window_now(ids: Ids) -> dict[str, Any]:
    start = (utcnow() - timedelta(hours=1)).astimezone(ZoneInfo("Europe/London"))
    return {
        "carer": ids["carer"],
        "weekday": start.weekday(),
        "start": f"{start:%H:%M}",
        "end": f"{start + timedelta(hours=3):%H:%M}",
    }


def _member(ids: Ids) -> dict[str, str]:
    return {"person_id": ids["person_id"], "role": "carer"}


def _push_subscription(_: Ids) -> dict[str, Any]:
    """A browser's PushSubscription JSON with a fresh, valid key (push routes)."""
    from tests.web.test_push_routes import browser_subscription

    return browser_subscription("https://push.example.invalid/matrix")


def _webhooks() -> Any:
    import tests.hub.test_webhook_api as webhooks  # issue 10: makes subscriptions, dead letters

    return webhooks


def _webhook_body(ids: Ids) -> dict[str, Any]:
    return _webhooks().matrix_body(ids)  # type: ignore[no-any-return]


HOME = "home"
RULES: dict[tuple[str, str], Rule] = {
    # auth: about the caller only
    ("POST", "/api/login"): Rule("public"),
    ("POST", "/api/invitations/accept"): Rule("public"),
    ("GET", "/api/health"): Rule("public"),
    ("GET", "/api/session"): Rule("self"),
    ("POST", "/api/logout"): Rule("self", call=False),
    ("POST", "/api/step-up"): Rule("self", body=lambda _: {"totp": "000000"}),
    ("POST", "/api/totp/enroll"): Rule("self"),
    ("POST", "/api/totp/confirm"): Rule("self", body=lambda _: {"totp": "000000"}),
    ("POST", "/api/totp/qr"): Rule(
        "self", body=lambda _: {"uri": "otpauth://totp/Doorstep:x?secret=JBSWY3DPEHPK3PXP"}
    ),
    ("GET", "/api/stream"): Rule("self", call=False),
    ("GET", "/api/fleet"): Rule("self"),
    ("GET", "/api/me"): Rule("self"),
    ("GET", "/api/my/visits"): Rule("self"),
    # Web Push: one's own subscriptions only
    ("GET", "/api/push/vapid-key"): Rule("self"),
    ("POST", "/api/push/subscriptions"): Rule("self", body=_push_subscription),
    ("DELETE", "/api/push/subscriptions"): Rule(
        "self", query=lambda _: {"endpoint": "https://push.example.invalid/matrix"}
    ),
    # notifications (issue 12): one's own preferences and receipts; failures for admins
    ("GET", "/api/me/notifications"): Rule("self"),
    ("PUT", "/api/me/notifications"): Rule("self", body=lambda _: {"muted_kinds": ["checkin"]}),
    ("POST", "/api/notifications/seen"): Rule("self", body=lambda _: {"key": "matrix:none"}),
    ("GET", "/api/notifications"): Rule("self", query=lambda _: {"key": "matrix:none"}),
    ("GET", "/api/admin/notifications/failures"): Rule("any_home", (P.ADMINISTER,)),
    # a home's doors, events, commands
    ("GET", "/api/homes/{home}/doors"): Rule(HOME, (P.VIEW_HEALTH,)),
    ("GET", "/api/homes/{home}/events"): Rule(HOME, (P.VIEW_EVENTS,)),
    ("GET", "/api/snapshots/{snapshot_id}"): Rule(HOME, (P.VIEW_SNAPSHOTS,)),
    ("POST", "/api/doors/{device}/unlock"): Rule(HOME, (P.UNLOCK,)),
    ("GET", "/api/commands/{command_id}"): Rule(HOME, (P.VIEW_EVENTS,)),
    ("POST", "/api/alerts/{alert_id}/acknowledge"): Rule(HOME, (P.ACK_ALERTS,)),
    ("POST", "/api/doors/{device}/live"): Rule(
        HOME, (P.LIVE_VIEW,), body=lambda _: {"seconds": 1, "interval_ms": 1000}
    ),
    ("POST", "/api/doors/{device}/live/stop"): Rule(HOME, (P.LIVE_VIEW,)),
    # care
    ("GET", "/api/homes/{home}/expected"): Rule(HOME, (P.VIEW_EVENTS,)),
    ("GET", "/api/homes/{home}/visits"): Rule(HOME, (P.VIEW_EVENTS, P.MANAGE_CARERS)),
    ("POST", "/api/homes/{home}/visits"): Rule(HOME, (P.MANAGE_CARERS,), body=_window_now),
    ("DELETE", "/api/homes/{home}/visits/{window_id}"): Rule(
        HOME, (P.MANAGE_CARERS,), prepare=_fresh_window
    ),
    ("GET", "/api/homes/{home}/carers"): Rule(HOME, (P.MANAGE_CARERS,)),
    ("POST", "/api/visits/{window_id}/check-in"): Rule(HOME, (P.CHECK_IN,)),
    # carers' photos (issue 9): the carer on their own (CHECK_IN: the path's carer is the
    # home's only logged-in carer), the owner on any carer's; seen like ring snapshots
    ("PUT", "/api/homes/{home}/carers/{carer}/photo"): Rule(
        HOME, (P.MANAGE_CARERS, P.CHECK_IN), body=_photo_body
    ),
    ("DELETE", "/api/homes/{home}/carers/{carer}/photo"): Rule(
        HOME, (P.MANAGE_CARERS, P.CHECK_IN), prepare=_fresh_photo
    ),
    ("GET", "/api/homes/{home}/carer-photos"): Rule(HOME, (P.MANAGE_CARERS,)),
    ("GET", "/api/my/carer-photos"): Rule("self"),
    ("GET", "/api/carer-photos/{photo_id}"): Rule(
        HOME, (P.VIEW_SNAPSHOTS, P.CHECK_IN), prepare=_fresh_photo
    ),
    # visit records and the check-in policy (issue 9); PUT before DELETE: ends switched off
    ("GET", "/api/homes/{home}/reports/visits"): Rule(
        HOME, (P.VIEW_EVENTS,), query=lambda _: {"from": "2026-01-01", "to": "2026-01-31"}
    ),
    ("GET", "/api/homes/{home}/check-in-policy"): Rule(HOME, (P.MANAGE_CARERS,)),
    ("PUT", "/api/homes/{home}/check-in-policy"): Rule(
        HOME, (P.MANAGE_CARERS,), body=lambda _: {"family_approves": False}
    ),
    ("PUT", "/api/homes/{home}/carers/{carer}/auto-unlock"): Rule(HOME, (P.MANAGE_CARERS,)),
    ("DELETE", "/api/homes/{home}/carers/{carer}/auto-unlock"): Rule(HOME, (P.MANAGE_CARERS,)),
    ("GET", "/api/homes/{home}/check-in-approvals"): Rule(HOME, (P.UNLOCK,)),
    ("POST", "/api/check-in-approvals/{approval_id}/approve"): Rule(
        HOME, (P.UNLOCK,), prepare=_fresh_approval
    ),
    ("POST", "/api/homes/{home}/invitations"): Rule(
        HOME, (P.MANAGE_CARERS, P.ADMINISTER), body=lambda _: {"role": "carer"}
    ),
    ("GET", "/api/homes/{home}/audit"): Rule(HOME, (P.READ_AUDIT,)),
    # administration
    ("GET", "/api/admin/homes"): Rule("any_home", (P.ADMINISTER,)),
    ("POST", "/api/admin/homes"): Rule(
        "any_home", (P.ADMINISTER,), body=lambda _: {"name": "Matrix", "timezone": "UTC"}
    ),
    ("GET", "/api/admin/devices"): Rule("any_home", (P.ADMINISTER,)),
    ("GET", "/api/admin/people"): Rule("any_home", (P.ADMINISTER,)),
    ("POST", "/api/admin/devices/{device}/home"): Rule(
        HOME, (P.ADMINISTER,), body=lambda ids: {"home": ids["home"]}
    ),
    ("POST", "/api/admin/homes/{home}/members"): Rule(
        HOME, (P.ADMINISTER,), body=_member, prepare=_fresh_member
    ),
    ("DELETE", "/api/admin/homes/{home}/members/{person_id}/{role}"): Rule(
        HOME, (P.ADMINISTER,), prepare=_fresh_member
    ),
    ("POST", "/api/admin/homes/{home}/grants"): Rule(
        HOME,
        (P.ADMINISTER,),
        body=lambda ids: {**_member(ids), "grant": "may_unlock"},
        prepare=_fresh_member,
    ),
    ("DELETE", "/api/admin/homes/{home}/grants"): Rule(
        HOME,
        (P.ADMINISTER,),
        query=lambda ids: {**_member(ids), "grant": "may_unlock"},
        prepare=_fresh_member,
    ),
    # privacy: consent, privacy switch, subject access, erasure (issue 9)
    ("GET", "/api/homes/{home}/consent"): Rule(HOME, (P.MANAGE_CONSENT,)),
    ("POST", "/api/homes/{home}/consent"): Rule(
        HOME,
        (P.MANAGE_CONSENT,),
        body=lambda _: {
            "basis": "person",
            "scope": ["snapshots"],
            "consented_on": "2026-01-01",
            "review_on": "2027-01-01",
        },
    ),
    ("GET", "/api/consent/reviews-due"): Rule("any_home", (P.MANAGE_CONSENT, P.REVIEW_CONSENT)),
    ("GET", "/api/homes/{home}/privacy"): Rule(HOME, (P.VIEW_HEALTH,)),
    ("PUT", "/api/homes/{home}/retention"): Rule(
        HOME, (P.MANAGE_CONSENT,), body=lambda _: {"days": 30}
    ),
    ("POST", "/api/doors/{device}/privacy"): Rule(
        HOME, (P.SET_PRIVACY,), body=lambda _: {"privacy": False}
    ),
    ("GET", "/api/admin/people/{person_id}/export"): Rule(
        HOME, (P.ADMINISTER,), prepare=_fresh_member
    ),
    ("POST", "/api/admin/people/{person_id}/erase"): Rule(
        HOME, (P.ADMINISTER,), prepare=_fresh_member
    ),
    # Home Assistant discovery per door (issue 10)
    ("GET", "/api/admin/devices/{device}/home-assistant"): Rule(HOME, (P.ADMINISTER,)),
    ("PUT", "/api/admin/devices/{device}/home-assistant"): Rule(
        HOME, (P.ADMINISTER,), body=lambda _: {"person_id": None, "share_snapshots": False}
    ),
    ("DELETE", "/api/admin/devices/{device}/home-assistant"): Rule(
        HOME, (P.ADMINISTER,), prepare=_ha_opted_in
    ),
    # webhooks to partner agencies (issue 10); helpers in tests/hub/test_webhook_api.py
    ("GET", "/api/admin/webhooks"): Rule("any_home", (P.ADMINISTER,)),
    ("GET", "/api/admin/webhooks/event-types"): Rule("any_home", (P.ADMINISTER,)),
    ("POST", "/api/admin/webhooks"): Rule(HOME, (P.ADMINISTER,), body=_webhook_body),
    ("DELETE", "/api/admin/webhooks/{subscription_id}"): Rule(
        HOME, (P.ADMINISTER,), prepare=lambda w, ids: _webhooks().matrix_subscription(w, ids)
    ),
    ("POST", "/api/admin/webhooks/{subscription_id}/rotate-secret"): Rule(
        HOME, (P.ADMINISTER,), prepare=lambda w, ids: _webhooks().matrix_subscription(w, ids)
    ),
    ("GET", "/api/admin/webhooks/dead-letters"): Rule("any_home", (P.ADMINISTER,)),
    ("POST", "/api/admin/webhooks/dead-letters/{delivery_id}/retry"): Rule(
        HOME, (P.ADMINISTER,), prepare=lambda w, ids: _webhooks().matrix_dead_letter(w, ids)
    ),
    # escalation and break-glass (issue 9). Rights () : only a time-boxed, ring- or
    # box-scoped access opens these (an officer the ring reached; the box's officer).
    ("GET", "/api/homes/{home}/escalation"): Rule(HOME, (P.VIEW_EVENTS, P.MANAGE_ESCALATION)),
    ("PUT", "/api/homes/{home}/escalation"): Rule(
        HOME, (P.MANAGE_ESCALATION,), body=lambda _: {"step_timeout_s": 60}
    ),
    ("GET", "/api/rings/{event_id}/escalation"): Rule(HOME, (P.VIEW_EVENTS,)),
    ("POST", "/api/escalations/{escalation_id}/acknowledge"): Rule(
        HOME, (P.VIEW_EVENTS,), prepare=_fresh_escalation
    ),
    ("GET", "/api/escalations/mine"): Rule("self"),
    ("GET", "/api/escalations/{escalation_id}/snapshot"): Rule(HOME, ()),
    ("POST", "/api/escalations/{escalation_id}/unlock"): Rule(HOME, ()),
    ("POST", "/api/doors/{device}/break-glass"): Rule(
        HOME, (P.BREAK_GLASS,), body=lambda _: {"reason": "matrix: an emergency at this door"}
    ),
    ("POST", "/api/break-glass/{break_glass_id}/unlock"): Rule(HOME, ()),
    ("GET", "/api/homes/{home}/break-glass"): Rule(
        HOME, (P.REVIEW_BREAK_GLASS, P.READ_AUDIT, P.BREAK_GLASS)
    ),
    ("POST", "/api/break-glass/{break_glass_id}/review"): Rule(
        HOME, (P.REVIEW_BREAK_GLASS,), body=lambda _: {"note": "matrix"}, prepare=_fresh_box
    ),
    # exports and reports (issue 10); /metrics has no session: its own bearer token
    # (refusals tested in tests/web/test_metrics.py)
    ("GET", "/api/homes/{home}/export/fhir/audit-events"): Rule(HOME, (P.READ_AUDIT,)),
    ("GET", "/api/admin/export/fhir/devices"): Rule("any_home", (P.ADMINISTER,)),
    ("GET", "/api/admin/reports/ring-answers"): Rule("any_home", (P.ADMINISTER,)),
    ("GET", "/api/admin/reports/ring-answer-summary"): Rule("any_home", (P.ADMINISTER,)),
    ("GET", "/api/admin/reports/unlocks-per-home"): Rule("any_home", (P.ADMINISTER,)),
    ("GET", "/api/admin/reports/device-uptime"): Rule("any_home", (P.ADMINISTER,)),
    ("GET", "/metrics"): Rule("public"),
}
# Served by the framework or as files: no data, no session.
FRAMEWORK = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static"}


@dataclass
class Tally:
    refused: int = 0
    allowed: int = 0
    unauthorised_successes: int = 0
    problems: list[str] = field(default_factory=list)


def app_routes(web: Web) -> list[tuple[str, str, Any]]:
    """(method, path, endpoint) of every route the app serves."""
    out = []
    for context in iter_route_contexts(web.app.routes):
        if context.path in FRAMEWORK:
            continue
        assert isinstance(context.original_route, APIRoute), context.path
        for method in sorted(context.methods or ()):
            out.append((method, context.path, context.endpoint))
    return out


def _is_page(method: str, path: str, endpoint: Any) -> bool:
    """HTML shells: public GETs outside /api that load their data through the API."""
    public = getattr(endpoint, "__doorstep_public__", False)
    return method == "GET" and not path.startswith("/api/") and public


@pytest.fixture(scope="module")
def people(web: Web) -> dict[str, str]:
    rig = web.rig
    return {
        "anna": rig.family,  # family member, own home
        "officer": rig.telecare,  # telecare officer, own home
        "stranger": rig.stranger,  # family owner of the other home
        "carer1": make_person(web, "carer1", Role.CARER, rig.home),
        "granted1": make_person(
            web, "granted1", Role.TELECARE_OFFICER, rig.home, (Grant.TELECARE_MAY_VIEW_SNAPSHOTS,)
        ),
        "owner1": make_person(web, "owner1", Role.FAMILY_OWNER, rig.home),
        "admin1": make_person(web, "admin1", Role.ADMIN, rig.home),
        "carer2": make_person(web, "carer2", Role.CARER, rig.other_home),
    }


@pytest.fixture(scope="module")
def world(web: Web, people: dict[str, str]) -> dict[str, Ids]:
    """One door, one ring with its snapshot, one command, one alert, one carer's visit window
    and one member in each home."""
    rig = web.rig
    out: dict[str, Ids] = {}
    for label, home in (("own", rig.home), ("other", rig.other_home)):
        device = rig.add_device()
        with rig.db.session() as s:
            assign_home(s, device, home)
        _agent, board = rig.agent(device)
        wait_online(rig, device)
        board.ring()
        snapshot: list[str] = []

        def stored(device: str = device, snapshot: list[str] = snapshot) -> bool:
            with rig.db.read_session() as s:
                for e in events_of(s, device):
                    snapshot[:] = [m.id for m in snapshots_for_event(s, e.event_id)]
                return bool(snapshot)

        assert rig.wait_until(stored)
        owner = rig.family if label == "own" else rig.stranger
        ticket = rig.hub.commands.request(device, "unlock", person_id=owner, hold_s=0.05)
        rig.hub.commands.wait(ticket.id, timeout=5)
        with rig.db.session() as s:
            alert, _ = raise_alert(s, AlertKind.LOW_DISK, at=utcnow(), device_id=device)
        ids = {
            "home": home,
            "device": device,
            "snapshot_id": snapshot[0],
            "command_id": ticket.id,
            "alert_id": str(alert.id),
            "carer": people["carer1" if label == "own" else "carer2"],
        }
        ids |= _fresh_window(web, ids)
        ids |= _fresh_member(web, ids)
        ids |= _fresh_approval(web, ids)  # issue 9: a check-in waiting for approval
        ids |= _fresh_escalation(web, ids) | _fresh_box(web, ids)  # issue 9
        ids |= _fresh_photo(web, ids)  # issue 9: a carer's photo with consent
        hooks = _webhooks()  # issue 10: a webhook subscription and a dead letter
        ids |= hooks.matrix_subscription(web, ids) | hooks.matrix_dead_letter(web, ids)
        out[label] = ids
    return out


def test_every_route_has_a_rule_and_public_ones_are_marked(web: Web) -> None:
    missing, wrong = [], []
    for method, path, endpoint in app_routes(web):
        rule = RULES.get((method, path))
        public = getattr(endpoint, "__doorstep_public__", False)
        if rule is None and not _is_page(method, path, endpoint):
            missing.append(f"{method} {path}")
        elif rule is not None and (rule.scope == "public") != public:
            wrong.append(f"{method} {path}")
    assert missing == [], "add these routes to RULES with the right they need"
    assert wrong == [], "these routes' @public marks disagree with RULES"
    assert set(RULES) <= {(m, p) for m, p, _ in app_routes(web)}, "RULES names a gone route"


def test_without_a_session_only_public_routes_answer(
    web: Web, world: dict[str, Ids], people: dict[str, str]
) -> None:
    anonymous = web.client_for()
    ids = world["own"] | {"role": "carer"}
    secrets_ = {v for v in world["own"].values() if len(v) > 8} | set(people.values())
    for method, path, endpoint in app_routes(web):
        rule = RULES.get((method, path))
        if rule is not None and rule.scope == "public":
            continue
        r = anonymous.request(method, path.format(**ids))
        if _is_page(method, path, endpoint):
            assert r.status_code == 200, (path, r.status_code)
            leaked = [s for s in secrets_ if s in r.text and s not in path.format(**ids)]
            assert leaked == [], (path, leaked)
        else:
            assert r.status_code == 401, (method, path, r.status_code, r.text)


def test_state_changes_without_the_csrf_token_are_refused(web: Web, world: dict[str, Ids]) -> None:
    client, _csrf = log_in(web, "admin1")
    ids = world["own"] | {"role": "carer"}
    for (method, path), rule in RULES.items():
        if rule.scope == "public" or method in ("GET", "HEAD"):
            continue
        r = client.request(method, path.format(**ids), json=rule.body(ids) if rule.body else None)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "CSRF" in r.json()["detail"]


def _may(web: Web, rule: Rule, person: str, ids: Ids, route: tuple[str, str]) -> bool:
    rig = web.rig
    with rig.db.read_session() as s:
        if rule.scope == "any_home":
            homes = {rig.home, rig.other_home}
            return any(set(rule.rights) & permissions(s, person, h) for h in homes)
        may = bool(set(rule.rights) & permissions(s, person, ids["home"]))
    if route[1] == "/api/commands/{command_id}":  # one may always follow one's own command
        mine = rig.home if person == rig.family else rig.other_home
        may = may or (person in (rig.family, rig.stranger) and ids["home"] == mine)
    return may


def _check(
    web: Web, world: dict[str, Ids], tally: Tally, name: str, client: Any, csrf: dict
) -> None:
    """Every route this person can reach, against both homes' things."""
    person = client.get("/api/session").json()["person_id"]
    for route, rule in RULES.items():
        if rule.scope == "public" or not rule.call:
            continue
        method, template = route
        for base in world.values():
            ids = dict(base)
            if rule.prepare is not None:
                ids |= rule.prepare(web, ids)
            r = client.request(
                method,
                template.format(**ids),
                headers=csrf,
                json=rule.body(ids) if rule.body else None,
                params=rule.query(ids) if rule.query else None,
            )
            where = (name, method, template, ids["home"] == web.rig.home, r.status_code, r.text)
            if r.status_code >= 500 and r.status_code != 503:
                tally.problems.append(f"server error {where}")
            if rule.scope == "self":
                tally.allowed += 1
            elif _may(web, rule, person, ids, route):
                tally.allowed += 1
                if r.status_code in (401, 403):
                    tally.problems.append(f"refused although allowed {where}")
            else:
                tally.refused += 1
                tally.unauthorised_successes += r.status_code < 400
                if r.status_code not in (403, 404):
                    tally.problems.append(f"not refused {where}")
            if r.status_code < 400:
                _no_leak(web, world, tally, person, where, r.text)


def _no_leak(
    web: Web, world: dict[str, Ids], tally: Tally, person: str, where: tuple, text: str
) -> None:
    """A success never names things of a home where the person has no right at all."""
    for ids in world.values():
        with web.rig.db.read_session() as s:
            if permissions(s, person, ids["home"]):
                continue
        leaked = [k for k, v in ids.items() if len(v) > 8 and v in text]
        if leaked:
            tally.problems.append(f"leaks {leaked} {where}")


def test_no_unauthorised_success(web: Web, world: dict[str, Ids], people: dict[str, str]) -> None:
    tally = Tally()
    for name in people:
        client, csrf = log_in(web, name, step_up=True)
        _check(web, world, tally, name, client, csrf)
    assert tally.problems == []
    assert tally.unauthorised_successes == 0
    assert tally.refused > 200
    assert tally.allowed > 100


def test_snapshot_through_a_grant_is_audited(
    web: Web, world: dict[str, Ids], people: dict[str, str]
) -> None:
    client = web.client_for()
    r = client.post(
        "/api/login",
        json={
            "username": "granted1",
            "password": PASSWORD,
            "totp": web.clock.code(web.totp["granted1"]),
        },
    )
    assert r.status_code == 200
    r = client.get(f"/api/snapshots/{world['own']['snapshot_id']}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content[:2] == b"\xff\xd8"
    with web.rig.db.read_session() as s:
        viewed = [e for e in entries(s) if e.action == "snapshot_viewed"]
    assert viewed
    assert viewed[-1].details["by_grant"] == "view_snapshots"
