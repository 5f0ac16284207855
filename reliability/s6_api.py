"""Schemathesis over every API route of the web app served by uvicorn (a real HTTP server),
with the helpers of tests/web/test_openapi_fuzz.py: no 5xx and no exception, ever.

    >>> fuzz_api(examples=2)          # doctest: +SKIP
"""

from __future__ import annotations

import logging

import httpx
import schemathesis

from bench._stack import Stack, running_stack
from tests.web import test_openapi_fuzz as fuzz

from .figures import Figure, at_least, at_most, info

log = logging.getLogger(__name__)


def _member(stack: Stack) -> fuzz.Member:
    with httpx.Client(base_url=stack.base_url) as client:
        r = client.post(
            "/api/login",
            json={
                "username": stack.username,
                "password": stack.password,
                "totp": stack.totp_code(),
            },
        )
        r.raise_for_status()
        token = r.cookies.get("__Host-doorstep") or ""
        headers = {"X-CSRF-Token": r.json()["csrf_token"]}
        person = r.json()["person_id"]
        # The second factor done, so the unlock and live-view routes get past the step-up check.
        client.cookies.set("__Host-doorstep", token)
        r = client.post("/api/step-up", json={"totp": stack.totp_code()}, headers=headers)
        r.raise_for_status()
    member = fuzz.Member({"__Host-doorstep": token}, headers)
    member.ids = {"home": stack.home, "device": stack.device, "person_id": person}
    return member


def fuzz_api(examples: int) -> list[Figure]:
    fuzz.EXAMPLES = examples  # the helpers read it per call: the size of this run
    found = fuzz.Findings()
    with running_stack() as stack:
        member = _member(stack)
        schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
        everything = fuzz._operations(schema, set())
        logged_in = fuzz._operations(schema, fuzz.SESSION_ENDERS | fuzz.STREAMS)
        for op in everything:
            fuzz._fuzz(op, None, found)
        for op in logged_in:
            fuzz._fuzz(op, member, found)
        for op in logged_in:
            fuzz._fuzz(op, member, found, pinned=member.ids)
    server_errors = sum(n for code, n in found.by_status.items() if code >= 500)
    for error in found.errors[:5]:
        log.error("API fuzzing found: %s", error)
    return [
        info("API operations fuzzed (3 ways each)", len(everything)),
        at_least("API requests made", found.calls, len(everything)),
        at_most("API responses 5xx", server_errors, 0),
        at_most("API requests that raised in the app", len(found.errors) - server_errors, 0),
    ]
