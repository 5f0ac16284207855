"""Hub ingest throughput against the bare MQTT pipe, and the hub's CPU under fleet heartbeats.

1. bare QoS 1 pipe: one publisher -> one subscriber, N event-sized messages, msgs/s;
2. durable ingest: the same N events through a real Hub into SQLite (and PostgreSQL
   when DOORSTEP_BENCH_POSTGRES_URL is set or Debian's server binaries are present),
   timed until the hub's stored-through mark reaches N (every event durable);
3. heartbeats of 100,000 registered devices at one a minute (1,667 msgs/s) for a
   while: CPU seconds used by the hub's own threads per wall second.

    $ .venv/bin/python -m bench.hub_ingest --events 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
from hub.storage.devices import get_device
from hub.storage.snapshot_files import SnapshotFiles
from protocol import DoorOpened, Telemetry, encode, utcnow
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
        for device in devices:
            register_device(
                s, device_id=device, name="door", public_key_pem=pem, at=utcnow(), home_id=home
            )


def _hub(db: Database, broker: MosquittoProcess, root: Path, name: str) -> Hub:
    runtime = HubRuntimeSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_client_id=f"bench-hub-{name}",
        health_interval_s=5,
    )
    hub = Hub(db, SnapshotFiles(root / "snapshots"), Ed25519PrivateKey.generate(), runtime)
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


def heartbeat_cpu(
    db: Database, broker: MosquittoProcess, root: Path, devices: int, seconds: float
) -> dict[str, float]:
    ids = [f"door-hb{i:08d}" for i in range(devices)]
    t = time.perf_counter()
    _register(db, ids)
    registered_s = time.perf_counter() - t
    hub = _hub(db, broker, root, "hb")
    threads = [
        hub.ingest._worker.native_id,
        hub.health._threads[0].native_id,
        hub.link._client._thread.native_id,
    ]
    pub = MqttLink(LinkSettings(broker.host, broker.port, "hb-pub", clean_start=True))
    pub.start()
    rate = devices / 60
    before = _thread_cpu(threads)
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            device = ids[sent % devices]
            pub.publish(
                encode(
                    Telemetry(
                        device=device,
                        boot_id=BOOT,
                        at=utcnow(),
                        monotonic_ms=sent,
                        clock_synced=True,
                        uptime_s=60,
                        software_version="0.1.0",
                        outbox_depth=0,
                    )
                )
            )
            sent += 1
        time.sleep(0.005)
    hub.ingest.wait_idle(60)
    wall = time.perf_counter() - start
    cpu = _thread_cpu(threads) - before
    pub.stop()
    hub.stop()
    return {
        "devices": devices,
        "messages_per_s": round(sent / wall, 1),
        "hub_cpu_percent_of_one_core": round(cpu / wall * 100, 1),
        "seconds": round(wall, 1),
        "registering_devices_s": round(registered_s, 1),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--fleet", type=int, default=100_000)
    parser.add_argument("--heartbeat-seconds", type=float, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="doorstep-bench-hub-"))
    root.chmod(0o711)  # Mosquitto (user mosquitto) must reach root/broker
    settings = BrokerSettings(layout=BrokerLayout(root / "broker"), port=free_port())
    broker = MosquittoProcess(settings, plain_config(settings)).start()
    result: dict[str, Any] = {"benchmark": "hub_ingest", "events": args.events}
    pg = None
    try:
        result["pipe_msgs_per_s"] = round(pipe_rate(broker, args.events), 1)
        sqlite = Database(f"sqlite:///{root / 'hub.sqlite3'}")
        sqlite.upgrade()
        result["sqlite_events_per_s"] = round(
            ingest_rate(sqlite, broker, root, args.events, "sqlite"), 1
        )
        result["sqlite_ratio_to_pipe"] = round(
            result["sqlite_events_per_s"] / result["pipe_msgs_per_s"], 2
        )
        url, pg = _postgres()
        if url:
            pgdb = Database(url)
            pgdb.upgrade()
            result["postgres_events_per_s"] = round(
                ingest_rate(pgdb, broker, root, args.events, "pg"), 1
            )
            result["postgres_ratio_to_pipe"] = round(
                result["postgres_events_per_s"] / result["pipe_msgs_per_s"], 2
            )
        else:
            result["postgres_events_per_s"] = "skipped: no PostgreSQL server binaries or URL"
        hb = Database(f"sqlite:///{root / 'fleet.sqlite3'}")
        hb.upgrade()
        result["heartbeats_sqlite"] = heartbeat_cpu(
            hb, broker, root, args.fleet, args.heartbeat_seconds
        )
        result["target_ratio"] = 0.5
    finally:
        broker.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
