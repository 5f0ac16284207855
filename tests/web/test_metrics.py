"""/metrics: refused without the deployment's token, and with it the figures of a known
scenario (real broker, hub, edge agent and database), parsed with prometheus_client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from firmware_config.mosquitto import free_port
from hub.metrics import METRICS_TOKEN_FILE, hub_registry, load_or_create_token
from hub.storage import events_of, raise_alert
from hub.storage.devices import get_device
from hub.storage.models_commands import AlertKind
from mobile_api.routes.metrics import MetricsAccess
from protocol import encode, utcnow
from protocol.device import Telemetry
from protocol.signing import private_key_pem
from protocol.topics import PREFIX
from tests.web.conftest import Web, wait_online

TOKEN = "test-metrics-token-" + "x" * 20


@pytest.fixture(scope="module")
def scenario(web: Web) -> dict[str, Any]:
    """Two doors online (one via the real agent, one via a raw heartbeat with 7 messages in
    its outbox), one acknowledged unlock, one open low-disk alert, one malformed message."""
    rig = web.rig
    web.app.state.metrics = MetricsAccess(TOKEN, hub_registry(rig.db, ingest=rig.hub.ingest))
    door = rig.add_device()
    rig.agent(door)
    wait_online(rig, door)
    ticket = rig.hub.commands.request(door, "unlock", person_id=rig.family, hold_s=0.05)
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"
    quiet = rig.add_device()
    link = rig.device_link(quiet, will=False)
    beat = Telemetry(
        device=quiet,
        boot_id="cd" * 8,
        at=utcnow(),
        monotonic_ms=5,
        clock_synced=True,
        uptime_s=5,
        software_version="1.2.3",
        outbox_depth=7,
        outbox_bytes=700,
    )
    link.publish(encode(beat)).wait_for_publish(5)
    rig.raw(link, f"{PREFIX}/{quiet}/event/ring", b"not json")
    wait_online(rig, quiet)
    assert rig.hub.ingest.wait_idle()
    with rig.db.session() as s:
        raise_alert(s, AlertKind.LOW_DISK, at=utcnow(), device_id=door)
    with rig.db.read_session() as s:
        stored = len(events_of(s, door)) + len(events_of(s, quiet))
        assert get_device(s, quiet).outbox_depth == 7
        # the agent's own first heartbeat may still count a message or two
        agent_outbox = get_device(s, door).outbox_depth or 0
    return {"door": door, "quiet": quiet, "events": stored, "outbox": 7 + agent_outbox}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_metrics_refuse_without_the_token(web: Web, scenario: dict[str, Any]) -> None:
    client = web.client_for()
    assert client.get("/metrics").status_code == 401
    r = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "doorstep_" not in r.text
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401


def test_metrics_match_the_scenario(web: Web, scenario: dict[str, Any]) -> None:
    r = web.client_for().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    got = _samples(r.text)
    assert got[("doorstep_database_up", ())] == 1
    assert got[("doorstep_devices", (("health", "online"),))] == 2
    assert got[("doorstep_devices", (("health", "offline"),))] == 0
    unlock_ok = (("action", "unlock"), ("outcome", "acknowledged"))
    assert got[("doorstep_commands_total", unlock_ok)] == 1
    assert got[("doorstep_commands_pending", (("action", "unlock"),))] == 0
    assert got[("doorstep_alerts_open", (("kind", "low_disk"), ("status", "raised")))] == 1
    assert got[("doorstep_alerts_open", (("kind", "device_offline"), ("status", "raised")))] == 0
    # Recounted now: the door's own re-lock event may land after the scenario counted.
    assert web.rig.hub.ingest.wait_idle()
    with web.rig.db.read_session() as s:
        stored = len(events_of(s, scenario["door"])) + len(events_of(s, scenario["quiet"]))
    assert stored >= scenario["events"]
    assert got[("doorstep_events_stored_total", ())] == stored
    assert got[("doorstep_outbox_messages", ())] == scenario["outbox"]
    assert got[("doorstep_outbox_messages_max", ())] == 7
    malformed = [
        v for (name, labels), v in got.items()
        if name == "doorstep_ingest_problems_total" and ("category", "malformed") in labels
    ]  # fmt: skip
    assert sum(malformed) == 1
    assert got[("doorstep_ingest_queue_depth", ())] == 0
    assert got[("doorstep_audit_entries_total", ())] >= 3  # requested, sent, acknowledged
    assert got[("doorstep_events_per_second", ())] > 0


def test_metrics_are_off_without_a_token(web: Web, scenario: dict[str, Any]) -> None:
    access = web.app.state.metrics
    web.app.state.metrics = None
    try:
        r = web.client_for().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 404
    finally:
        web.app.state.metrics = access


def test_the_token_is_made_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / METRICS_TOKEN_FILE
    first = load_or_create_token(path)
    assert len(first) >= 40
    assert path.stat().st_mode & 0o077 == 0
    assert load_or_create_token(path) == first


def test_serve_makes_the_token_and_guards_metrics(tmp_path: Path, plain_broker: Any) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "hub-signing.key").write_bytes(
        private_key_pem(Ed25519PrivateKey.generate())
    )
    port = free_port()
    env = os.environ | {
        "DOORSTEP_HUB_DATA_DIR": str(tmp_path),
        "DOORSTEP_HUB_MQTT_HOST": plain_broker.host,
        "DOORSTEP_HUB_MQTT_PORT": str(plain_broker.port),
        "DOORSTEP_HUB_MQTT_CLIENT_ID": f"hub-metrics-{port}",
    }
    log = (tmp_path / "serve.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "doorstep", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a loaded machine the first start (migrations) can take a while.
        deadline, up = time.monotonic() + 90, False
        while not up and time.monotonic() < deadline and proc.poll() is None:
            try:
                up = httpx.get(f"{base}/api/health", timeout=1).status_code == 200
            except httpx.TransportError:
                time.sleep(0.1)
        assert up, (tmp_path / "serve.log").read_text()[-2000:]
        token_file = tmp_path / "keys" / METRICS_TOKEN_FILE
        assert token_file.stat().st_mode & 0o077 == 0
        token = token_file.read_text().strip()
        assert httpx.get(f"{base}/metrics").status_code == 401
        r = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert _samples(r.text)[("doorstep_database_up", ())] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert token not in (tmp_path / "serve.log").read_text()
