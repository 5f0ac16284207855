"""The web app under attack, over real HTTP (uvicorn), with its shipped settings.

- login brute force: 100 password guesses at one account in well under a minute, the right
  password among them; and a spray of 100 guesses over 100 usernames from one address (the
  per-address limit, 20 failures in 15 minutes by default, is the target);
- CSRF: a logged-in, stepped-up family member's unlock sent without the CSRF header, with
  a wrong one, and with another person's token;
- cross-home (IDOR): a family member of another home, stepped up, with a valid CSRF token,
  unlocks the first home's door and reads its audit log and events.

One correct unlock is sent first: the refusals mean something only if the real one works.
The door's relay and the hub's command table say whether anything slipped through.
"""

from __future__ import annotations

import httpx
import pyotp
from sqlalchemy import func, select

from bench._stack import Stack, running_stack
from hub.storage import add_membership, create_home, create_person
from hub.storage.accounts import Passwords, confirm_totp, create_account, start_totp
from hub.storage.models_commands import Command
from hub.storage.models_registry import Role
from protocol import utcnow

from .figures import Figure, at_least, at_most, info
from .rig import wait_for

TITLE = "Web attacks: login brute force, CSRF, cross-home unlocks"
SHORT = "100 guesses + 100 sprayed; 20 CSRF and 20 cross-home attempts of each kind"
FULL = "100 guesses + 100 sprayed; 200 CSRF and 200 cross-home attempts of each kind"
COOKIE = "__Host-doorstep"
STRANGER, PASSWORD = "reliability-stranger", "another long password for the stranger"


def _stranger(stack: Stack) -> str:
    """A family member of a second home, with a confirmed second factor; their TOTP secret."""
    now = utcnow()
    with stack.hub.db.session() as s:
        home = create_home(s, name="Someone else", timezone="Europe/London", at=now).id
        person = create_person(s, display_name="Stranger", at=now).id
        add_membership(s, person_id=person, home_id=home, role=Role.FAMILY_OWNER, at=now)
        create_account(
            s, Passwords(), person_id=person, username=STRANGER, password=PASSWORD, at=now
        )
        secret = start_totp(s, person)
        assert confirm_totp(s, person, pyotp.TOTP(secret).at(stack.clock()), at=stack.clock())
    return secret


def _login(stack: Stack, username: str, password: str, code: str) -> tuple[str, str]:
    r = httpx.post(
        f"{stack.base_url}/api/login",
        json={"username": username, "password": password, "totp": code},
    )
    r.raise_for_status()
    return r.cookies[COOKIE], r.json()["csrf_token"]


def _commands(stack: Stack) -> int:
    with stack.hub.db.read_session() as s:
        return int(s.execute(select(func.count()).select_from(Command)).scalar_one())


def run(full: bool) -> list[Figure]:
    attempts = 200 if full else 20
    with running_stack() as stack, httpx.Client(base_url=stack.base_url) as http:
        secret = _stranger(stack)
        anna, anna_csrf = _login(stack, stack.username, stack.password, stack.totp_code())
        them, them_csrf = _login(stack, STRANGER, PASSWORD, stack.clock.code(secret))

        def post(path: str, cookie: str, csrf: str | None, json: object = None) -> int:
            headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
            http.cookies.set(COOKIE, cookie)
            return http.post(path, headers=headers, json=json).status_code

        def get(path: str, cookie: str) -> int:
            http.cookies.set(COOKIE, cookie)
            return http.get(path).status_code

        assert post("/api/step-up", anna, anna_csrf, {"totp": stack.totp_code()}) == 200
        assert post("/api/step-up", them, them_csrf, {"totp": stack.clock.code(secret)}) == 200
        unlock = f"/api/doors/{stack.device}/unlock"
        baseline = post(unlock, anna, anna_csrf, {"reason": "baseline"}) == 202
        wait_for(lambda: stack.agent.lock.state.value == "engaged", 10, "no re-lock")
        commands = _commands(stack)
        releases = sum(1 for _t, on in stack.board.relay_changes if on)
        csrf_ok = idor_ok = 0
        for _ in range(attempts):
            csrf_ok += post(unlock, anna, None, {"reason": "csrf"}) < 300
            csrf_ok += post(unlock, anna, "not-the-token", {"reason": "csrf"}) < 300
            csrf_ok += post(unlock, anna, them_csrf, {"reason": "csrf"}) < 300
            idor_ok += post(unlock, them, them_csrf, {"reason": "idor"}) < 300
            idor_ok += get(f"/api/homes/{stack.home}/audit", them) < 300
            idor_ok += get(f"/api/homes/{stack.home}/events", them) < 300
        slipped = _commands(stack) - commands
        moved = sum(1 for _t, on in stack.board.relay_changes if on) - releases
        # Brute force last: it locks the account and throttles this address, as it should.
        guesses = [f"guess {i}" for i in range(100)]
        guesses[49] = stack.password  # the right one, with a valid code, half-way through
        http.cookies.clear()
        answers = [
            http.post(
                "/api/login",
                json={"username": stack.username, "password": g, "totp": stack.totp_code()},
            ).status_code
            for g in guesses
        ]
        throttled = sum(code == 429 for code in answers)
        refused = sum(code != 200 for code in answers)
        # The spray comes from another loopback address: the brute force above has (rightly)
        # throttled this one already.
        port = stack.base_url.rsplit(":", 1)[1]
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=other) as sprayer:
            spray = [
                sprayer.post("/api/login", json={"username": f"user{i}", "password": "Winter2026!"})
                for i in range(100)
            ]
        sprayed_checked = sum(r.status_code != 429 for r in spray)
    return [
        at_least("baseline unlock with session, step-up and CSRF", int(baseline), 1),
        at_least("brute force: guesses refused (of 100)", refused, 95),
        at_least("brute force: refused unheard (429, password not checked)", throttled, 95),
        info("brute force: the right password among them accepted", int(answers[49] == 200)),
        at_most("spray over 100 usernames: guesses checked", sprayed_checked, 20),
        info("CSRF unlock attempts", 3 * attempts),
        at_most("CSRF unlock attempts that succeeded", csrf_ok, 0),
        info("cross-home attempts (unlock, audit, events)", 3 * attempts),
        at_most("cross-home attempts that succeeded", idor_ok, 0),
        at_most("commands created by refused attempts", slipped, 0),
        at_most("relay releases caused by refused attempts", moved, 0),
    ]
