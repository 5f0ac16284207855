"""Structured JSON logs: one object per line with the agreed fields, secrets never written.

A real run (login with password and TOTP, step-up, an unlock acknowledged by the real edge
agent) is logged through the JSON formatter and every line is scanned for the secrets the
run used; ``doorstep serve --log-format json`` is run as a process and its lines parsed.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_config.mosquitto import free_port
from protocol.logs import REDACTED, JsonFormatter, apply_log_format, use_log_format
from protocol.signing import private_key_pem
from tests.web.conftest import PASSWORD, Web, log_in, wait_online
from tests.web.conftest import web as web  # the fixture, for this module

FIELDS = {"time", "level", "logger", "message"}


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above (as ``doorstep serve`` runs) as JSON lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def test_one_object_per_line_with_fields_and_extras() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("doorstep.test.json")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    try:
        log.warning("door %s went quiet", "door-1a2b3c", extra={"device": "door-1a2b3c", "n": 3})
        log.info("login", extra={"password": "hunter2", "totp_code": "123456", "api_token": "t"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 3
    first, second, third = lines
    assert set(first) >= FIELDS
    assert first["message"] == "door door-1a2b3c went quiet"
    assert (first["level"], first["logger"], first["device"], first["n"]) == (
        "WARNING",
        "doorstep.test.json",
        "door-1a2b3c",
        3,
    )
    assert first["time"].endswith("Z")
    assert second["password"] == second["totp_code"] == second["api_token"] == REDACTED
    assert "hunter2" not in out.getvalue()
    assert "ValueError: boom" in third["exception"]


def test_the_format_comes_from_the_option_or_the_environment() -> None:
    root = logging.getLogger()
    saved = [h.formatter for h in root.handlers]
    try:
        assert apply_log_format(None, {"DOORSTEP_LOG_FORMAT": "json"}) == "json"
        assert all(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
        assert apply_log_format("text", {"DOORSTEP_LOG_FORMAT": "json"}) == "text"
        assert not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
        with pytest.raises(ValueError, match="json"):
            use_log_format("xml")
    finally:
        for handler, formatter in zip(root.handlers, saved, strict=False):
            handler.setFormatter(formatter)


def test_a_real_unlock_run_logs_no_secret(web: Web, json_lines: io.StringIO) -> None:
    rig = web.rig
    door = rig.add_device()
    rig.agent(door)
    wait_online(rig, door)
    client, csrf = log_in(web, "anna", step_up=True)
    code = web.clock.code(web.totp["anna"])
    r = client.post(f"/api/doors/{door}/unlock", headers=csrf, json={"totp": code})
    assert r.status_code == 202, r.text
    assert rig.hub.commands.wait(r.json()["command_id"], timeout=5) == "acknowledged"
    bad = web.client_for().post(
        "/api/login", json={"username": "anna", "password": PASSWORD + "x", "totp": "000000"}
    )
    assert bad.status_code == 401
    text = json_lines.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) >= 2, "the run logged (almost) nothing: the scan would prove nothing"
    assert all(set(line) >= FIELDS for line in lines)
    secrets_used = {
        PASSWORD,
        web.totp["anna"],
        code,
        pyotp.TOTP(web.totp["anna"]).at(web.clock()),
        csrf["X-CSRF-Token"],
        *client.cookies.values(),
    }
    leaked = [s for s in secrets_used if s and s in text]
    assert leaked == []


def test_serve_writes_json_lines(tmp_path: Path, plain_broker: Any) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "hub-signing.key").write_bytes(
        private_key_pem(Ed25519PrivateKey.generate())
    )
    port = free_port()
    env = os.environ | {
        "DOORSTEP_HUB_DATA_DIR": str(tmp_path),
        "DOORSTEP_HUB_MQTT_HOST": plain_broker.host,
        "DOORSTEP_HUB_MQTT_PORT": str(plain_broker.port),
        "DOORSTEP_HUB_MQTT_CLIENT_ID": f"hub-json-{port}",
    }
    cmd = [sys.executable, "-m", "doorstep", "serve", "--port", str(port), "--log-format", "json"]
    log_path = tmp_path / "serve.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, up = time.monotonic() + 90, False
        while not up and time.monotonic() < deadline and proc.poll() is None:
            try:
                up = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).is_success
            except httpx.TransportError:
                time.sleep(0.1)
        assert up, log_path.read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    assert any(line["message"] == "hub and web app stopped" for line in lines)
    assert all(set(line) >= FIELDS for line in lines)
    token = (tmp_path / "keys" / "metrics.token").read_text().strip()
    assert token not in log_path.read_text()


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--log-format", "json"],
        ["hub", "run", "--log-format", "json"],
        ["edge", "--config", "device.toml", "--log-format", "json"],
    ],
)
def test_every_long_running_command_takes_the_option(argv: list[str]) -> None:
    from doorstep.cli import build_parser

    assert build_parser().parse_args(argv).log_format == "json"
