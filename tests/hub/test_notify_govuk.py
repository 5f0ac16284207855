"""SMS and email through GOV.UK Notify's official client, against a local server that
implements the documented /v2/notifications/sms and /email requests, responses and error
bodies, and checks the client's JWT (HS256 over the API key's secret, iss = service id).

An unanswered ring and an offline door reach the family and the home's telecare officer
with the right template and personalisation; 5xx and 429 are retried, a 400 is recorded
as failed and not retried, and nobody waits for anybody else.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import jwt
import pytest

from hub.bus import Notice, NoticeBus
from hub.notify import NotifyWorker
from hub.notify.channel import NotifyConfigError
from hub.notify.govuk import GovNotifyChannel
from hub.notify.receipts import mark_seen, states
from hub.notify.settings import NotifySettings
from hub.notify.setup import Notifications
from hub.notify.store import deliveries, failed_deliveries
from hub.storage import Database, add_membership, create_home, create_person
from hub.storage.models_registry import Person, Role
from protocol import utcnow

SERVICE_ID = str(uuid.uuid4())
SECRET = str(uuid.uuid4())
API_KEY = f"doorstep_test-{SERVICE_ID}-{SECRET}"
# Template id -> (type, text with ((placeholders))), as made in Notify's admin site.
TEMPLATES = {
    "11111111-1111-4111-8111-111111111111": (
        "sms",
        "((home)): nobody answered the door at ((at)). Open ((url))",
    ),
    "22222222-2222-4222-8222-222222222222": ("email", "Nobody answered the door at ((home))"),
    "33333333-3333-4333-8333-333333333333": ("sms", "The doorbell at ((home)) is offline"),
    "44444444-4444-4444-8444-444444444444": ("email", "((title)): ((body))"),
    "55555555-5555-4555-8555-555555555555": (
        "sms",
        "((carer)) of ((agency)) was due at ((home)) ((window)) and has not arrived",
    ),
    "66666666-6666-4666-8666-666666666666": (
        "sms",
        "((door)) at ((home)) left unlocked at ((at)): ((url))",
    ),
    "77777777-7777-4777-8777-777777777777": (
        "email",
        "((officer)) used break-glass at ((home)) at ((at)): ((reason))",
    ),
}

SMS = {
    "ring_unanswered": "11111111-1111-4111-8111-111111111111",
    "device_offline": "33333333-3333-4333-8333-333333333333",
}
EMAIL = {
    "ring_unanswered": "22222222-2222-4222-8222-222222222222",
    "device_offline": "44444444-4444-4444-8444-444444444444",
}
# All five kinds with templates (the two above plus these).
ALL_SMS = {
    **SMS,
    "carer_non_arrival": "55555555-5555-4555-8555-555555555555",
    "door_left_unlocked": "66666666-6666-4666-8666-666666666666",
}
ALL_EMAIL = {**EMAIL, "break_glass": "77777777-7777-4777-8777-777777777777"}
UK_MOBILE = re.compile(r"^(\+44|0)7\d{9}$")


@dataclass
class Sent:
    medium: str
    to: str
    template: str
    personalisation: dict[str, str]
    reference: str | None
    body: str
    status: int
    id: str = ""


def _error(status: int, error: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"status_code": status, "errors": [{"error": error, "message": message}]}


class FakeNotify:
    """The Notify API's two send endpoints, on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[Sent] = []
        self.problems: list[str] = []
        self.script: dict[str, list[int]] = {}  # recipient -> statuses to answer first
        self.statuses: dict[str, str] = {}  # notification id -> its delivery status
        self.cond = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = fake.handle(self.path, self.headers.get("Authorization", ""), raw)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                status, answer = fake.lookup(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def lookup(self, path: str, auth: str) -> tuple[int, dict[str, Any]]:
        """GET /v2/notifications/{id}: the documented notification object (abridged)."""
        if (problem := self.check_auth(auth)) is not None:
            return problem
        ident = path.rsplit("/", 1)[-1]
        sent = next((r for r in self.requests if r.id == ident), None)
        if not path.startswith("/v2/notifications/") or sent is None:
            return _error(404, "NoResultFound", "No result found")
        return 200, {
            "id": ident,
            "reference": sent.reference,
            "type": sent.medium,
            "status": self.statuses.get(ident, "sending"),
            "template": {"id": sent.template, "version": 1, "uri": f"{self.url}/v2/template"},
            "body": sent.body,
            "created_at": "2026-11-25T10:00:00.000000Z",
            "completed_at": None,
        }

    def check_auth(self, auth: str) -> tuple[int, dict[str, Any]] | None:
        scheme, _, token = auth.partition(" ")
        try:
            claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_iat": False})
            assert scheme == "Bearer"
            assert claims["iss"] == SERVICE_ID
            assert abs(claims["iat"] - time.time()) <= 30, "clock must be within 30 seconds"
        except (jwt.PyJWTError, AssertionError, KeyError) as exc:
            self.problems.append(f"auth: {exc}")
            return _error(403, "AuthError", "Invalid token: API key not found")
        return None

    def handle(self, path: str, auth: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if (problem := self.check_auth(auth)) is not None:
            return problem
        medium = path.rsplit("/", 1)[-1]
        if path not in ("/v2/notifications/sms", "/v2/notifications/email"):
            return _error(404, "NotFound", "Not found")
        body = json.loads(raw)
        to = body.get("phone_number" if medium == "sms" else "email_address", "")
        template = TEMPLATES.get(body.get("template_id", ""))
        personalisation = body.get("personalisation") or {}
        status, answer = 201, {}
        if template is None or template[0] != medium:
            status, answer = _error(400, "BadRequestError", "Template not found")
        elif medium == "sms" and not UK_MOBILE.match(to.replace(" ", "")):
            status, answer = _error(400, "ValidationError", "phone_number Not a UK mobile number")
        elif missing := [
            p for p in re.findall(r"\(\((\w+)\)\)", template[1]) if p not in personalisation
        ]:
            status, answer = _error(
                400, "BadRequestError", f"Missing personalisation: {missing[0]}"
            )
        elif self.script.get(to):
            status = self.script[to].pop(0)
            answer = _error(
                status,
                *(
                    (
                        "RateLimitError",
                        "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
                    )
                    if status == 429
                    else ("Exception", "Internal server error")
                ),
            )[1]
        text, notification = "", ""
        if status == 201:
            text = re.sub(r"\(\((\w+)\)\)", lambda m: personalisation[m.group(1)], template[1])
            notification = str(uuid.uuid4())
            content = (
                {"body": text, "from_number": "Doorstep"}
                if medium == "sms"
                else {
                    "body": text,
                    "subject": "Doorstep",
                    "from_email": "doorstep@notifications.service.gov.uk",
                    "one_click_unsubscribe_url": None,
                }
            )
            answer = {
                "id": notification,
                "reference": body.get("reference"),
                "content": content,
                "uri": f"{self.url}/v2/notifications/{notification}",
                "template": {
                    "id": body["template_id"],
                    "version": 1,
                    "uri": f"{self.url}/v2/template/{body['template_id']}",
                },
            }
        with self.cond:
            self.requests.append(
                Sent(
                    medium,
                    to,
                    body.get("template_id", ""),
                    personalisation,
                    body.get("reference"),
                    text,
                    status,
                    notification,
                )
            )
            self.cond.notify_all()
        return status, answer

    def wait(self, predicate: Any, timeout: float = 10) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.requests), timeout)

    def sent(self) -> list[tuple[str, str, str]]:
        return sorted((r.medium, r.to, r.body) for r in self.requests if r.status == 201)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def notify() -> Iterator[FakeNotify]:
    fake = FakeNotify()
    yield fake
    fake.close()


def _home(db: Database) -> tuple[str, dict[str, str]]:
    now = utcnow()
    people: dict[str, str] = {}
    with db.session() as s:
        home = create_home(s, name="Margaret's home", timezone="Europe/London", at=now).id
        other = create_home(s, name="Elsewhere", timezone="UTC", at=now).id
        for name, role, where, contact in (
            (
                "anna",
                Role.FAMILY_MEMBER,
                home,
                {"phone": "07700900001", "email": "anna@example.org"},
            ),
            ("ben", Role.FAMILY_OWNER, home, {"phone": "07700900002"}),
            ("officer", Role.TELECARE_OFFICER, home, {"email": "telecare@council.example"}),
            ("carol", Role.CARER, home, {"phone": "07700900003"}),
            ("stranger", Role.FAMILY_OWNER, other, {"phone": "07700900004"}),
        ):
            people[name] = create_person(s, display_name=name, at=now, contact=contact).id
            add_membership(s, person_id=people[name], home_id=where, role=role, at=now)
    return home, people


def _worker(
    db: Database,
    bus: NoticeBus,
    notify: FakeNotify,
    delays=(0.05, 0.1, 0.2),
    sms=SMS,
    email=EMAIL,
    public_url: str = "",
) -> NotifyWorker:
    channels = [
        GovNotifyChannel(
            db, API_KEY, medium="sms", templates=sms, base_url=notify.url, public_url=public_url
        ),
        GovNotifyChannel(
            db, API_KEY, medium="email", templates=email, base_url=notify.url, public_url=public_url
        ),
    ]
    return NotifyWorker(db, bus, channels, retry_delays_s=delays, report_every_s=None)


def test_unanswered_ring_and_offline_door_reach_family_and_telecare(
    database: Database, notify: FakeNotify
) -> None:
    home, _people = _home(database)
    bus = NoticeBus()
    worker = _worker(database, bus, notify)
    worker.start()
    try:
        # As hub.escalation tells the family and (opted-in) telecare that nobody answered.
        unanswered = Notice(
            "notify",
            "door-1",
            {
                "to": [_people["anna"], _people["ben"], _people["officer"]],
                "message_kind": "ring_unanswered",
                "key": "escalation:7:unanswered",
                "title": "Nobody answered the door",
                "body": "Nobody answered the doorbell.",
                "url": f"/homes/{home}",
                "tag": "ring:7",
                "safety": True,
            },
            home,
        )
        bus.post(unanswered)
        bus.post(Notice("alert", "door-1", {"alert": "low_disk", "alert_id": 8}, home))
        bus.post(unanswered)  # the same alert again: nobody hears twice
        assert notify.wait(lambda rs: len(rs) >= 4)
        assert worker.wait_idle(10)
        bus.post(Notice("alert", "door-1", {"alert": "device_offline", "alert_id": 9}, home))
        assert notify.wait(lambda rs: len(rs) >= 8)
        assert worker.wait_idle(10)
        time.sleep(0.2)  # room for a wrong extra message to show up
    finally:
        worker.stop()
    assert notify.problems == []
    at = f"{unanswered.at.astimezone(ZoneInfo('Europe/London')):%H:%M}"
    assert notify.sent() == sorted(
        [
            (
                "sms",
                "07700900001",
                f"Margaret's home: nobody answered the door at {at}. Open /homes/{home}",
            ),
            (
                "sms",
                "07700900002",
                f"Margaret's home: nobody answered the door at {at}. Open /homes/{home}",
            ),
            ("email", "anna@example.org", "Nobody answered the door at Margaret's home"),
            ("email", "telecare@council.example", "Nobody answered the door at Margaret's home"),
            ("sms", "07700900001", "The doorbell at Margaret's home is offline"),
            ("sms", "07700900002", "The doorbell at Margaret's home is offline"),
            (
                "email",
                "anna@example.org",
                "Doorbell offline: The doorbell at Margaret's home is offline.",
            ),
            (
                "email",
                "telecare@council.example",
                "Doorbell offline: The doorbell at Margaret's home is offline.",
            ),
        ]
    )
    assert {r.reference for r in notify.requests} == {"escalation:7:unanswered", "alert:9"}
    assert len(notify.requests) == 8


def test_notify_errors_are_retried_or_recorded_and_delay_nobody(
    database: Database, notify: FakeNotify
) -> None:
    home, people = _home(database)
    with database.session() as s:  # Ben's number is a landline: Notify refuses it (400)
        s.get(Person, people["ben"]).contact = {"phone": "01632960001"}
    notify.script["07700900001"] = [500, 429]  # Anna's SMS: a server error, then a rate limit
    bus = NoticeBus()
    worker = _worker(database, bus, notify)
    worker.start()
    try:
        bus.post(Notice("alert", "door-1", {"alert": "device_offline", "alert_id": 11}, home))
        assert notify.wait(lambda rs: len([r for r in rs if r.status == 201]) >= 3)
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    assert notify.problems == []
    anna_sms = [r.status for r in notify.requests if r.to == "07700900001"]
    assert anna_sms == [500, 429, 201]
    assert [r.status for r in notify.requests if r.to == "01632960001"] == [400]  # not retried
    with database.read_session() as s:
        rows = {(r.person_id, r.channel): (r.status, r.attempts) for r in deliveries(s, "alert:11")}
        (failed,) = failed_deliveries(s)
    assert rows == {
        (people["anna"], "govuk_sms"): ("sent", 3),
        (people["anna"], "govuk_email"): ("sent", 1),
        (people["ben"], "govuk_sms"): ("failed", 1),
        (people["officer"], "govuk_email"): ("sent", 1),
    }
    assert "Not a UK mobile number" in (failed.last_error or "")
    assert "01632960001" not in (failed.last_error or "")  # no address kept in the record


def test_settings_turn_on_only_the_channels_they_configure(
    database: Database, notify: FakeNotify, tmp_path: Any
) -> None:
    home, _people = _home(database)
    bus = NoticeBus()
    off = Notifications.start(database, bus, tmp_path, NotifySettings())
    assert (off.keys, off.worker) == (None, None)
    settings = NotifySettings(
        govuk_api_key=API_KEY, govuk_base_url=notify.url, govuk_sms_templates=SMS
    )
    on = Notifications.start(database, bus, tmp_path, settings)
    try:
        assert on.keys is None  # no VAPID subject: no Web Push, no key made
        assert not (tmp_path / "keys").exists()
        bus.post(Notice("alert", "door-1", {"alert": "device_offline", "alert_id": 21}, home))
        assert notify.wait(lambda rs: len(rs) >= 2)
        assert on.worker is not None
        assert on.worker.wait_idle(10)
    finally:
        on.stop()
    assert {r.medium for r in notify.requests} == {"sms"}  # no email templates: no email


def test_all_five_templates_are_personalised(database: Database, notify: FakeNotify) -> None:
    home, people = _home(database)
    bus = NoticeBus()
    worker = _worker(
        database, bus, notify, sms=ALL_SMS, email=ALL_EMAIL, public_url="https://door.example/"
    )
    worker.start()
    try:
        bus.post(
            Notice(
                "notify",
                "",
                {
                    "to": [people["anna"]],
                    "message_kind": "carer_non_arrival",
                    "key": "visit:v1:late",
                    "title": "Carer has not arrived",
                    "body": "Carol was due at 09:00",
                    "url": f"/homes/{home}/carers",
                    "tag": "visit-v1",
                    "safety": True,
                    "extra": {"carer": "Carol", "agency": "Kind Care", "window": "09:00-09:30"},
                },
                home,
            )
        )
        left = Notice("alert", "door-1", {"alert": "door_left_unlocked", "alert_id": 31}, home)
        bus.post(left)
        bus.post(
            Notice(
                "notify",
                "",
                {
                    "to": [people["officer"]],
                    "message_kind": "break_glass",
                    "key": "bg:5",
                    "title": "Break-glass used",
                    "body": "An officer opened the door",
                    "url": f"/homes/{home}/audit",
                    "tag": "bg",
                    "safety": True,
                    "extra": {"officer": "Olu", "reason": "no answer, fall suspected"},
                },
                home,
            )
        )
        assert notify.wait(lambda rs: len(rs) >= 4)
        assert worker.wait_idle(10)
    finally:
        worker.stop()
    assert notify.problems == []
    at = f"{left.at.astimezone(ZoneInfo('Europe/London')):%H:%M}"
    bg_at = next(r for r in notify.requests if r.reference == "bg:5").personalisation["at"]
    assert notify.sent() == sorted(
        [
            (
                "sms",
                "07700900001",
                "Carol of Kind Care was due at Margaret's home 09:00-09:30 and has not arrived",
            ),
            (
                "sms",
                "07700900001",
                f"the door at Margaret's home left unlocked at {at}: https://door.example/homes/{home}",
            ),
            (
                "sms",
                "07700900002",
                f"the door at Margaret's home left unlocked at {at}: https://door.example/homes/{home}",
            ),
            (
                "email",
                "telecare@council.example",
                f"Olu used break-glass at Margaret's home at {bg_at}: no answer, fall suspected",
            ),
        ]
    )


def test_unknown_template_kind_is_a_config_error(database: Database) -> None:
    with pytest.raises(NotifyConfigError, match="unknown kinds"):
        GovNotifyChannel(database, API_KEY, medium="sms", templates={"ring": "x"})


def test_delivery_receipts_come_from_notify(database: Database, notify: FakeNotify) -> None:
    home, people = _home(database)
    bus = NoticeBus()
    worker = _worker(database, bus, notify)
    worker.start()
    try:
        bus.post(Notice("alert", "door-1", {"alert": "device_offline", "alert_id": 41}, home))
        assert notify.wait(lambda rs: len(rs) >= 4)
        assert worker.wait_idle(10)
        with database.read_session() as s:
            assert set(states(s, "alert:41").values()) == {"sent"}
        assert worker.poll_reports() == 0  # Notify still "sending" everything
        by_to = {r.to: r.id for r in notify.requests}
        notify.statuses[by_to["07700900001"]] = "delivered"  # anna's SMS
        notify.statuses[by_to["07700900002"]] = "permanent-failure"  # ben's SMS
        notify.statuses[by_to["telecare@council.example"]] = "temporary-failure"
        assert worker.poll_reports() == 3
        assert worker.poll_reports() == 0  # settled ones are not asked again
    finally:
        worker.stop()
    with database.session() as s:
        assert states(s, "alert:41") == {
            people["anna"]: "delivered",  # her email is still "sent": the best one counts
            people["ben"]: "failed",
            people["officer"]: "failed",
        }
        rows = {(r.person_id, r.channel): r.status for r in deliveries(s, "alert:41")}
        assert rows[(people["anna"], "govuk_email")] == "sent"
        assert {r.last_error for r in failed_deliveries(s)} == {
            "Notify: permanent-failure",
            "Notify: temporary-failure",
        }
        mark_seen(s, "alert:41", people["ben"], utcnow())
    with database.read_session() as s:
        assert states(s, "alert:41")[people["ben"]] == "seen"
