"""Hub ingest throughput against the bare MQTT pipe, and the hub's CPU under fleet heartbeats.

1. bare QoS 1 pipe: one publisher -> one subscriber, N event-sized messages, msgs/s;
2. durable ingest: the same N events through a real Hub into SQLite (and PostgreSQL
   when DOORSTEP_BENCH_POSTGRES_URL is set or Debian's server binaries are present),
   timed until the hub's stored-through mark reaches N (every event durable);
3. heartbeats of 100,000 registered devices at one a minute (1,667 msgs/s) for a
   while, sent by a separate process, into a fleet seeded as running (all online,
   heard from within the last minute): CPU seconds used by the hub process (and by
   its ingest, health and MQTT threads) per wall second, with the health monitor
   sweeping every second.

    $ .venv/bin/python -m bench.hub_ingest --events 10000
    $ .venv/bin/python -m bench.hub_ingest --heartbeats-only --fleet 100000 --heartbeat-seconds 60
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from firmware_config.mosquitto import (
    BrokerLayout,
    BrokerSettings,
    MosquittoProcess,
    free_port,
    plain_config,
)
from hub.runtime_settings import HubRuntimeSettings
from hub.service import Hub
from hub.storage import Database, create_home, register_device
from hub.storage.devices import get_device, record_telemetries
from hub.storage.models_registry import Device, DeviceHealth
from hub.storage.snapshot_files import SnapshotFiles
from protocol import DoorOpened, Telemetry, decode, encode, utcnow
from protocol.codec import WireMessage
from protocol.mqtt import LinkSettings, MqttLink
from protocol.signing import public_key_pem

BOOT = "5f2c8e1a9b3d7c40"


def _event(device: str, seq: int) -> WireMessage:
    return encode(
        DoorOpened(
            device=device,
            id=f"00000000-0000-4000-8000-{seq:012d}",
            seq=seq,
            boot_id=BOOT,
            at=utcnow(),
            monotonic_ms=seq,
        )
    )


def pipe_rate(broker: MosquittoProcess, n: int) -> float:
    got = threading.Event()
    count = [0]

    def on(_t: str, _p: bytes, _props: Any) -> None:
        count[0] += 1
        if count[0] >= n:
            got.set()

    sub = MqttLink(LinkSettings(broker.host, broker.port, "pipe-sub", clean_start=True))
    sub.subscribe("doorstep/v1/+/event/+", on)
    sub.start()
    sub.wait_subscribed()
    pub = MqttLink(LinkSettings(broker.host, broker.port, "pipe-pub", clean_start=True))
    pub.start()
    wires = [_event("door-pipe000001", s) for s in range(1, n + 1)]
    start = time.perf_counter()
    for wire in wires:
        pub.publish(wire)
    got.wait(300)
    elapsed = time.perf_counter() - start
    pub.stop()
    sub.stop()
    return n / elapsed


def _register(db: Database, devices: list[str]) -> None:
    pem = public_key_pem(Ed25519PrivateKey.generate().public_key()).decode()
    with db.session() as s:
        home = create_home(s, name="Bench", timezone="Europe/London", at=utcnow()).id
    # In chunks: one ORM session holding 100,000 new objects slows every flush down.
    for start in range(0, len(devices), 1000):
        with db.session() as s:
            for device in devices[start : start + 1000]:
                register_device(
                    s, device_id=device, name="door", public_key_pem=pem, at=utcnow(), home_id=home
                )


def _hub(db: Database, broker: MosquittoProcess, root: Path, name: str, **runtime: Any) -> Hub:
    settings: dict[str, Any] = {"health_interval_s": 5} | runtime
    runtime_settings = HubRuntimeSettings(
        mqtt_host=broker.host, mqtt_port=broker.port, mqtt_client_id=f"bench-hub-{name}", **settings
    )
    hub = Hub(db, SnapshotFiles(root / "snapshots"), Ed25519PrivateKey.generate(), runtime_settings)
    hub.start()
    return hub


def ingest_rate(db: Database, broker: MosquittoProcess, root: Path, n: int, name: str) -> float:
    device = f"door-{name}00001"
    _register(db, [device])
    hub = _hub(db, broker, root, name)
    pub = MqttLink(LinkSettings(broker.host, broker.port, f"ingest-pub-{name}", clean_start=True))
    pub.start()
    wires = [_event(device, s) for s in range(1, n + 1)]
    start = time.perf_counter()
    for wire in wires:
        pub.publish(wire)
    while True:
        with db.read_session() as s:
            if get_device(s, device).stored_through >= n:
                break
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    pub.stop()
    hub.stop()
    return n / elapsed


def _thread_cpu(native_ids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for tid in native_ids:
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _heartbeat(device: str, n: int) -> WireMessage:
    return encode(
        Telemetry(
            device=device,
            boot_id=BOOT,
            at=utcnow(),
            monotonic_ms=n,
            clock_synced=True,
            uptime_s=60,
            software_version="0.1.0",
            outbox_depth=0,
            disk_free_bytes=8_000_000_000,
            heartbeat_interval_s=60,
        )
    )


def _fleet_ids(devices: int) -> list[str]:
    return [f"door-hb{i:08d}" for i in range(devices)]


def _publish_fleet(host: str, port: int, devices: int, seconds: float, out: Any) -> None:
    """In a child process (so the publisher never competes with the hub for its GIL):
    device i sends at i/rate, i.e. every device once a minute, staggered."""
    ids = _fleet_ids(devices)
    rate = devices / 60
    pub = MqttLink(LinkSettings(host, port, "hb-pub", clean_start=True))
    pub.start()
    pub.wait_connected(30)
    out.put("ready")  # the parent starts its CPU clock now
    before = os.times()
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            pub.publish(_heartbeat(ids[sent % devices], sent))
            sent += 1
        time.sleep(0.005)
    wall = time.perf_counter() - start
    after = os.times()
    pub.stop()
    out.put((sent, wall, (after.user - before.user) + (after.system - before.system)))


def _seed_fleet(db: Database, ids: list[str]) -> None:
    """Steady state: every device online, heard from within the last minute, staggered
    in the order the publisher will send them (as if the fleet had been running)."""
    now = utcnow()
    step = timedelta(seconds=60 / len(ids))
    with db.session() as s:
        record_telemetries(
            s,
            [
                (decode(w.topic, w.payload).message, now - timedelta(seconds=60) + i * step)
                for i, w in enumerate(_heartbeat(d, 0) for d in ids)
            ],
        )
        s.execute(update(Device).values(health=DeviceHealth.ONLINE))


def heartbeat_cpu(
    db: Database, broker: MosquittoProcess, root: Path, devices: int, seconds: float
) -> dict[str, Any]:
    ids = _fleet_ids(devices)
    t = time.perf_counter()
    _register(db, ids)
    _seed_fleet(db, ids)
    registered_s = time.perf_counter() - t
    # Limits a fleet heartbeating once a minute would set (degraded after 150 s, offline
    # after 180 s), which also leaves the seeded fleet time to start; the health monitor
    # sweeps every second, as by default.
    t = time.perf_counter()
    cpu_t = os.times()
    hub = _hub(
        db, broker, root, "hb", degraded_after_s=150, offline_after_s=180, health_interval_s=1
    )
    threads = [
        hub.ingest._worker.native_id,
        hub.health._threads[0].native_id,
        hub.link._client._thread.native_id,
    ]
    # The hub signs an audit checkpoint at start and sends it to every door; that fan-out
    # recurs every 5 minutes, so it is timed on its own, outside the steady-state window.
    while hub.checkpoints.published < devices and time.perf_counter() - t < 300:
        time.sleep(0.05)
    fanout_s = time.perf_counter() - t
    fanout_cpu = (os.times().user - cpu_t.user) + (os.times().system - cpu_t.system)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(
        target=_publish_fleet, args=(broker.host, broker.port, devices, seconds, out)
    )
    received_before = hub.ingest.stats.received
    child.start()
    assert out.get(timeout=120) == "ready"
    before_threads = _thread_cpu(threads)
    before = os.times()
    start = time.perf_counter()
    backlog = 0  # the most heartbeats ever waiting in the hub's ingest queue
    while True:
        try:
            sent, publish_wall, child_cpu = out.get(timeout=0.25)
            break
        except queue.Empty:
            backlog = max(backlog, hub.ingest._queue.qsize())
            if time.perf_counter() - start > seconds + 120:
                raise RuntimeError("the heartbeat publisher never finished") from None
    child.join(30)
    idle = hub.ingest.wait_idle(120)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    cpu_threads = _thread_cpu(threads) - before_threads
    received = hub.ingest.stats.received - received_before
    with db.read_session() as s:
        stmt = select(Device.health, func.count()).group_by(Device.health)
        health = {row[0]: row[1] for row in s.execute(stmt)}
    hub.stop()
    return {
        "devices": devices,
        "offered_msgs_per_s": round(sent / publish_wall, 1),
        "stored_msgs_per_s": round(received / wall, 1),
        "sent": sent,
        "stored": received,
        "stored_all": received == sent and idle,
        "max_ingest_backlog_msgs": backlog,
        "hub_cpu_ms_per_heartbeat": round(cpu / max(received, 1) * 1000, 3),
        "hub_process_cpu_percent_of_one_core": round(cpu / wall * 100, 1),
        "hub_threads_cpu_percent_of_one_core": round(cpu_threads / wall * 100, 1),
        "publisher_cpu_percent_of_one_core": round(child_cpu / publish_wall * 100, 1),
        "seconds": round(wall, 1),
        "devices_by_health_after": {str(k.value): v for k, v in health.items()},
        "registering_devices_s": round(registered_s, 1),
        "checkpoint_fanout": {
            "devices": hub.checkpoints.published,
            "seconds": round(fanout_s, 1),
            "hub_cpu_s": round(fanout_cpu, 1),
        },
    }


def _postgres() -> tuple[str | None, Any]:
    url = os.environ.get("DOORSTEP_BENCH_POSTGRES_URL")
    if url:
        return url, None
    try:
        from tests.fixtures.database import ThrowawayPostgres, postgres_bin_dir
    except ImportError:
        return None, None
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        return None, None
    pg = ThrowawayPostgres(bin_dir, durable=True).start()
    return pg.url(), pg


def _ingest_figures(result: dict[str, Any], broker: MosquittoProcess, root: Path, n: int) -> Any:
    """The pipe and durable-ingest figures (into ``result``); returns a PostgreSQL to stop."""
    result["pipe_msgs_per_s"] = round(pipe_rate(broker, n), 1)
    sqlite = Database(f"sqlite:///{root / 'hub.sqlite3'}")
    sqlite.upgrade()
    result["sqlite_events_per_s"] = round(ingest_rate(sqlite, broker, root, n, "sqlite"), 1)
    result["sqlite_ratio_to_pipe"] = round(
        result["sqlite_events_per_s"] / result["pipe_msgs_per_s"], 2
    )
    url, pg = _postgres()
    if url:
        pgdb = Database(url)
        pgdb.upgrade()
        result["postgres_events_per_s"] = round(ingest_rate(pgdb, broker, root, n, "pg"), 1)
        result["postgres_ratio_to_pipe"] = round(
            result["postgres_events_per_s"] / result["pipe_msgs_per_s"], 2
        )
    else:
        result["postgres_events_per_s"] = "skipped: no PostgreSQL server binaries or URL"
    result["target_ratio"] = 0.5
    return pg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--fleet", type=int, default=100_000, help="0: skip the heartbeats")
    parser.add_argument("--heartbeat-seconds", type=float, default=20)
    parser.add_argument(
        "--heartbeats-only", action="store_true", help="skip the pipe and event-ingest figures"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="doorstep-bench-hub-"))
    root.chmod(0o711)  # Mosquitto (user mosquitto) must reach root/broker
    settings = BrokerSettings(layout=BrokerLayout(root / "broker"), port=free_port())
    broker = MosquittoProcess(settings, plain_config(settings)).start()
    result: dict[str, Any] = {"benchmark": "hub_ingest", "events": args.events}
    pg = None
    try:
        if not args.heartbeats_only:
            pg = _ingest_figures(result, broker, root, args.events)
        if args.fleet > 0:
            hb = Database(f"sqlite:///{root / 'fleet.sqlite3'}")
            hb.upgrade()
            result["heartbeats_sqlite"] = heartbeat_cpu(
                hb, broker, root, args.fleet, args.heartbeat_seconds
            )
    finally:
        broker.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
