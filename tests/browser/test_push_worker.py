"""The "Turn on notifications" button, the service worker's push and click handlers, and
"seen" receipts, in headless Chromium against the real app, hub, edge agent and
NotifyWorker.

Headless Chromium has no push service: ``pushManager.subscribe`` is refused ("permission
denied"). So the page's call to it is answered by an init script with the subscription a
browser would give (a key pair made here, an endpoint on our local push endpoint); the
rest is real: the page posts it, a ring on the simulated door makes the hub encrypt and
send a Web Push there (VAPID checked, payload decrypted), and that payload is handed to
the service worker with CDP ``ServiceWorker.deliverPushMessage`` - the step a push service
does. The click is a ``notificationclick`` event dispatched inside the service worker (no
real tap exists headless); ``clients.openWindow`` needs a real user gesture, so what it
was asked to open is recorded instead of opening a window.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hub.notify import VAPID_KEY_FILE, NotifyWorker, VapidKeys, WebPushChannel
from hub.notify.preferences import load
from hub.notify.receipts import states
from hub.notify.route import Draft, row_of
from hub.notify.store import (
    add_recipient,
    claim_delivery,
    record_attempt,
    save_notification,
    subscriptions_of,
)
from hub.notify.vapid import b64url
from hub.storage import add_membership, create_person, events_of
from hub.storage.models_registry import Role
from mobile_api.app import create_app
from mobile_api.routes.push import PushConfig
from mobile_api.settings import WebSettings
from protocol import utcnow
from tests.browser.conftest import PHONE, TIMEOUT_MS, ServerThread, Site, _account
from tests.fixtures.database import _new_database
from tests.hub.test_notify_webpush import SUBJECT, PushEndpoint
from tests.hubrt.rig import HubRig
from tests.web.conftest import Clock, fast_passwords, wait_online


@pytest.fixture(scope="module")
def push_site(
    request: pytest.FixtureRequest, plain_broker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Site, PushEndpoint]]:
    keys = VapidKeys.load_or_create(tmp_path_factory.mktemp("push") / VAPID_KEY_FILE)
    with _new_database(request, "sqlite") as db:
        rig = HubRig(db, plain_broker).start()
        endpoint = PushEndpoint(keys.public_bytes)
        worker = NotifyWorker(db, rig.hub.bus, [WebPushChannel(db, keys, subject=SUBJECT)])
        server = None
        try:
            device = rig.add_device()
            _agent, board = rig.agent(device)
            wait_online(rig, device)
            clock = Clock()
            passwords = fast_passwords()
            site = Site("", rig, clock, device, board)
            with rig.db.session() as s:
                _account(site, s, passwords, "anna", rig.family)
                adam = create_person(s, display_name="Adam", at=utcnow()).id
                add_membership(s, person_id=adam, home_id=rig.home, role=Role.ADMIN, at=utcnow())
                _account(site, s, passwords, "adam", adam)
            app = create_app(rig.hub, WebSettings(), passwords=passwords, clock=clock)
            app.state.push = PushConfig(keys.application_server_key, allow_loopback_http=True)
            server = ServerThread(app).start()
            site.url = f"http://127.0.0.1:{server.port}"
            worker.start()
            yield site, endpoint
        finally:
            worker.stop()
            endpoint.close()
            if server is not None:
                server.stop()
            rig.stop()


FAKE_SUBSCRIBE = """
PushManager.prototype.getSubscription = async function () { return null; };
PushManager.prototype.subscribe = async function (options) {
  const key = new Uint8Array(options.applicationServerKey);
  const b64 = btoa(String.fromCharCode(...key));
  window.__subscribeAsked = { userVisibleOnly: options.userVisibleOnly,
    key: b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "") };
  const sub = %s;
  return { endpoint: sub.endpoint, toJSON: () => sub };
};
"""


def _registration_id(cdp: Any, page: Any) -> str:
    found: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda p: found.extend(p["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        live = [r for r in found if not r["isDeleted"]]
        if live:
            return str(live[-1]["registrationId"])
        page.wait_for_timeout(100)
    raise AssertionError("no service worker registration reported by CDP")


def _notifications(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        """async () => (await (await navigator.serviceWorker.ready).getNotifications())
             .map(n => ({ title: n.title, body: n.body, tag: n.tag, data: n.data, image: n.image,
                          requireInteraction: n.requireInteraction }))"""
    )


def _shown_within(page: Any, seconds: float, ok: Any = bool) -> bool:
    """Whether ``ok(number of notifications shown)`` comes true within ``seconds``.
    (page.wait_for_function does not await an async predicate: poll from here.)"""
    deadline = time.monotonic() + seconds
    while not ok(len(_notifications(page))):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _wait_shown(page: Any, ok: Any) -> None:
    assert _shown_within(page, 10, ok), _notifications(page)


def _rings(site: Site) -> list[str]:
    with site.rig.db.read_session() as s:
        return [f"ring:{e.event_id}" for e in events_of(s, site.device) if e.kind == "ring"]


def test_subscribe_push_shows_the_ring_and_click_opens_it_and_marks_seen(
    push_site: tuple[Site, PushEndpoint], browser: Any
) -> None:
    site, endpoint = push_site
    phone = endpoint.add("anna-phone")
    subscription = {
        "endpoint": endpoint.url("anna-phone"),
        "expirationTime": None,
        "keys": {"p256dh": phone.p256dh(), "auth": b64url(phone.auth)},
    }
    ctx = browser.new_context(**PHONE, base_url=site.url, service_workers="allow")
    try:
        ctx.grant_permissions(["notifications"], origin=site.url)
        ctx.add_init_script(FAKE_SUBSCRIBE % json.dumps(subscription))
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        site.login(page, "anna", then=f"/homes/{site.home}")
        page.wait_for_selector("#notify-settings", state="visible")
        page.click("#push-subscribe")
        page.wait_for_selector("body[data-push=subscribed]", state="attached")
        assert page.inner_text("#push-status") == "Notifications are on for this device."
        asked = page.evaluate("window.__subscribeAsked")
        assert asked == {"userVisibleOnly": True, "key": b64url(endpoint_key(push_site))}
        with site.rig.db.read_session() as s:
            assert [x.endpoint for x in subscriptions_of(s, site.people["anna"])] == [
                subscription["endpoint"]
            ]
        script = page.evaluate("async () => (await navigator.serviceWorker.ready).active.scriptURL")
        assert script == f"{site.url}/sw.js"

        # The family's page is closed (she is elsewhere in the app): a ring reaches her by push.
        page.goto(f"/homes/{site.home}/events")
        earlier = set(_rings(site))
        site.board.ring()
        assert endpoint.wait(lambda rs: len(rs) == 1)
        (request,) = endpoint.requests
        assert endpoint.problems == []
        payload = request.payload
        assert payload is not None
        assert site.rig.wait_until(lambda: len(set(_rings(site)) - earlier) == 1)
        (key,) = set(_rings(site)) - earlier
        assert payload["key"] == key
        cdp = ctx.new_cdp_session(page)
        # A loaded machine may drop a delivery to a worker that is still starting: deliver
        # again, up to three times (CDP reports registrations once, on enable: ask once).
        registration = _registration_id(cdp, page)
        for _attempt in range(3):
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": site.url, "registrationId": registration, "data": json.dumps(payload)},
            )
            if _shown_within(page, 5):
                break
        _wait_shown(page, lambda n: n > 0)
        (shown,) = _notifications(page)
        assert shown == {
            "title": "Someone is at the door - Margaret's home",
            "body": payload["body"],
            "tag": f"ring-{site.device}",
            "data": {"url": f"/homes/{site.home}", "key": key, "kind": "ring"},
            "image": f"{site.url}/api/snapshots/{payload['data']['snapshot_id']}",
            "requireInteraction": False,  # a ring is not a safety alert
        }
        with site.rig.db.read_session() as s:
            assert states(s, key) == {site.people["anna"]: "sent"}

        # A tap: the worker asks to open the ring screen and reports the notification seen.
        (sw,) = ctx.service_workers
        opened = sw.evaluate(
            """async () => {
                 const asked = [];
                 self.clients.openWindow = async (url) => { asked.push(url); return null; };
                 const [n] = await self.registration.getNotifications();
                 const event = new NotificationEvent("notificationclick", { notification: n });
                 try { self.dispatchEvent(event); } catch (e) {}
                 for (let i = 0; i < 50 && asked.length === 0; i++) {
                   await new Promise((r) => setTimeout(r, 100));
                 }
                 return asked;
               }"""
        )
        ring_page = f"{site.url}/homes/{site.home}?{urlencode({'notification': key})}"
        assert opened == [ring_page]
        _wait_shown(page, lambda n: n == 0)  # the tap closed it
        _wait_state(site, key, "seen")

        # What the tap opens: the ring screen showing that ring, with its picture.
        page.goto(ring_page)
        page.wait_for_selector("#notify-ring", state="visible")
        assert page.inner_text("#notify-ring-heading") == shown["title"]
        assert page.inner_text("#notify-ring-body") == shown["body"]
        page.wait_for_selector("#notify-ring-snapshot", state="visible")
        assert page.locator("#notify-ring-snapshot").evaluate("i => i.naturalWidth") > 0
    finally:
        ctx.close()


def endpoint_key(push_site: tuple[Site, PushEndpoint]) -> bytes:
    """The deployment's VAPID public key, as the push endpoint checks it."""
    _site, endpoint = push_site
    return endpoint.vapid_public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _wait_state(site: Site, key: str, want: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with site.rig.db.read_session() as s:
            if states(s, key).get(site.people["anna"]) == want:
                return
        time.sleep(0.05)
    with site.rig.db.read_session() as s:
        raise AssertionError(f"{key}: {states(s, key)}, wanted {want}")


def test_the_ring_screen_marks_the_ring_seen(
    push_site: tuple[Site, PushEndpoint], browser: Any
) -> None:
    site, endpoint = push_site
    ctx = browser.new_context(**PHONE, base_url=site.url, service_workers="block")
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        site.login(page, "anna", then=f"/homes/{site.home}")
        site.wait_stream(page)
        before = len(endpoint.requests)
        earlier = set(_rings(site))
        site.board.ring()
        page.wait_for_selector("#ring-card", state="visible")
        # The card may show the ring's preview before the ring is stored.
        assert site.rig.wait_until(lambda: len(set(_rings(site)) - earlier) == 1)
        (key,) = set(_rings(site)) - earlier
        _wait_state(site, key, "seen")
        assert endpoint.wait(lambda rs: len(rs) == before + 1)  # the push still went
    finally:
        ctx.close()


def test_preferences_form_and_the_admins_failure_table(
    push_site: tuple[Site, PushEndpoint], browser: Any
) -> None:
    site, _endpoint = push_site
    ctx = browser.new_context(**PHONE, base_url=site.url, service_workers="block")
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        site.login(page, "anna", then=f"/homes/{site.home}")
        page.wait_for_selector("#notify-form #notify-save")
        assert page.is_disabled("#nk-break_glass")  # a safety alert: always on
        assert page.is_checked("#nk-break_glass")
        page.uncheck("#nk-checkin")
        page.uncheck("#nc-govuk_sms")
        page.fill("#nq-start", "22:30")
        page.fill("#nq-end", "07:00")
        page.click("#notify-save")
        page.wait_for_selector("#notice:has-text('Notification settings saved.')")
        with site.rig.db.read_session() as s:
            prefs = load(s, site.people["anna"])
        assert (prefs.muted_kinds, prefs.off_channels) == (["checkin"], ["govuk_sms"])
        assert (prefs.quiet_start, prefs.quiet_end, prefs.rings_in_quiet_hours) == (
            "22:30",
            "07:00",
            True,
        )

        now = utcnow()
        with site.rig.db.session() as s:
            draft = Draft(
                "ui:fail:1", "device_offline", site.home, site.device, True, "t", "b", "/", "t"
            )
            save_notification(s, row_of(draft, now))
            anna = site.people["anna"]
            add_recipient(
                s,
                key="ui:fail:1",
                person_id=anna,
                device_id=site.device,
                kind="device_offline",
                skipped=None,
                at=now,
            )
            claim_delivery(
                s, key="ui:fail:1", person_id=anna, channel="govuk_sms", target="phone", at=now
            )
            record_attempt(
                s,
                key="ui:fail:1",
                person_id=anna,
                channel="govuk_sms",
                target="phone",
                status="failed",
                attempts=5,
                error="HTTP 400: ValidationError: Not a UK mobile number",
                at=now,
            )
        admin = ctx.new_page()
        site.login(admin, "adam", then="/admin")
        admin.wait_for_selector("#notify-failures-section", state="visible")
        row = admin.locator("#notify-failures tbody tr").first
        cells = row.locator("td").all_inner_texts()
        assert cells[1:] == [
            "Anna",
            "The doorbell goes offline",
            "Text message",
            "failed after 5 tries",
            "HTTP 400: ValidationError: Not a UK mobile number",
        ]
        assert admin.is_hidden("#notify-failures-none")
    finally:
        ctx.close()
