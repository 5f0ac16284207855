"""Edge latency through the mutual-TLS broker, with the MQTT floor measured in the same run.

- ring: finger on the simulated bell -> ring event (after its snapshot) received by a
  hub-side subscriber;
- unlock: signed unlock published by the hub side -> lock relay pin energised;
- the floor: the bare QoS 1 round trip, once on its own brokers before the trials
  (bench/_floor.py) and once paired with every trial on the same broker, so a shared
  machine's changing load is in both sides of the ratio;
- the agent's resident memory (after each import, and running) and idle CPU, as a
  separate ``doorstep edge --simulate`` process.

    $ .venv/bin/python -m bench.edge_latency --trials 200
    $ .venv/bin/python -m bench.edge_latency --memory-only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._floor import BINARY, SIZES, measure_floor, percentiles
from edge.options import AgentOptions
from edge.runner import build_agent
from firmware_config.broker_config import broker_process, broker_settings
from firmware_config.deployment import Deployment
from firmware_config.device_config import dump_device_config, load_device_config
from firmware_config.mosquitto import free_port
from protocol import (
    DoorbellRang,
    LockChanged,
    LockState,
    TopicKind,
    UnlockDoor,
    decode,
    encode_signed,
    new_message_id,
    sign,
    utcnow,
)
from protocol.codec import WireMessage
from protocol.mqtt import LinkSettings, MqttLink
from protocol.topics import PREFIX, topic_for


def _deployment(root: Path) -> tuple[Deployment, str, object]:
    dep = Deployment.init(root / "deploy")
    device = dep.add_device(name="Bench door", hardware="simulated").id
    broker = broker_process(dep, broker_settings(dep, port=free_port())).start()
    return dep, device, broker


def _config(dep: Deployment, device: str, broker: object, name: str = "bench") -> Path:
    """The device's file pointed at this broker, with an outbox of its own (``name``)."""
    bundle = dep.bundles / device
    cfg = load_device_config(bundle / "device.toml")
    where = {"host": broker.host, "port": broker.port}  # type: ignore[attr-defined]
    cfg = cfg.model_copy(
        update={
            "broker": cfg.broker.model_copy(update=where),
            "outbox": cfg.outbox.model_copy(update={"path": bundle / f"{name}-outbox.sqlite"}),
        }
    )
    path = bundle / f"{name}-device.toml"
    path.write_text(dump_device_config(cfg, relative_to=bundle))
    return path


def measure_latency(dep: Deployment, device: str, config: Path, trials: int) -> dict:
    cfg = load_device_config(config)
    built = build_agent(cfg, simulate=True)
    agent = built.agent
    board = built.board
    agent.options = AgentOptions(
        hold_s=0.05,
        cooldown_s=0.0,
        heartbeat_s=3600,
        # The device's own camera pace (5 frames/s): each frame is scaled, scored and
        # encoded as it comes, and that work competes with the ring for CPU and the GIL.
        frame_interval_s=AgentOptions().frame_interval_s,
        max_rejection_acks_per_min=10_000,
    )
    agent.lock.hold_s = 0.05
    arrived = threading.Event()
    relocked = threading.Event()
    ring_at: list[float] = []

    def on_event(topic: str, payload: bytes, props: object) -> None:
        message = decode(topic, payload).message
        if isinstance(message, DoorbellRang):
            ring_at.append(time.perf_counter())
            arrived.set()
        elif isinstance(message, LockChanged) and message.state is LockState.ENGAGED:
            relocked.set()

    acked = threading.Event()
    hub = MqttLink(
        LinkSettings(
            host=cfg.broker.host,
            port=cfg.broker.port,
            client_id="bench-hub",
            tls=dep.service_tls(),
            clean_start=True,
        )
    )
    hub.subscribe(f"{PREFIX}/{device}/event/+", on_event)
    hub.subscribe(f"{PREFIX}/{device}/cmd/ack", lambda *_: acked.set())
    floor = _PairedFloor(hub)
    hub.start()
    agent.start()
    agent.link.wait_connected(10)
    time.sleep(1.5)  # the frame buffer fills
    board.visitor = True  # type: ignore[attr-defined]
    ring_ms: list[float] = []
    for i in range(trials + 20):
        floor.trip("60KB", record=i >= 20)
        arrived.clear()
        start = time.perf_counter()
        board.ring()  # type: ignore[attr-defined]
        if not arrived.wait(5):
            raise TimeoutError(f"ring {i}: no ring event within 5 s")
        if i >= 20:
            ring_ms.append((ring_at[-1] - start) * 1000)
        time.sleep(0.01)
    signer = dep.hub_signer()
    unlock_ms: list[float] = []
    for i in range(trials + 20):
        now = utcnow()
        command = UnlockDoor(
            device=device,
            id=new_message_id(),
            counter=i + 1,
            issued_at=now,
            expires_at=now + timedelta(seconds=20),
            boot_id=agent.clock.boot_id,
            not_after_monotonic_ms=agent.clock.monotonic_ms() + 20_000,
            requested_by="bench",
            hold_s=0.05,
        )
        wire = encode_signed(TopicKind.COMMAND, device, sign(command, signer))
        floor.trip("64B", record=i >= 20)
        before = len(board.relay_changes)  # type: ignore[attr-defined]
        acked.clear()
        relocked.clear()
        start = time.monotonic()
        hub.publish(wire)
        if not acked.wait(5):
            raise TimeoutError(f"unlock {i}: no acknowledgement")
        changes = board.relay_changes[before:]  # type: ignore[attr-defined]
        energised = next(t for t, on in changes if on)
        if i >= 20:
            unlock_ms.append((energised - start) * 1000)
        # Wait for the full re-lock (bolt travel included) and for the hub to have heard
        # of it, then a pause as between rings: a command meets an idle device, as a
        # real one does (unlocks are seconds apart), not the previous re-lock's disk write.
        if not relocked.wait(5):
            raise TimeoutError(f"unlock {i}: no re-lock event")
        while board.relay_energised or agent.lock.state.value != "engaged":  # type: ignore[attr-defined]
            time.sleep(0.005)
        time.sleep(0.01)
    agent.stop()
    hub.stop()
    built.hardware.close()
    return {
        "ring_event_received": percentiles(ring_ms),
        "unlock_to_relay": percentiles(unlock_ms),
        "floor_paired": {label: percentiles(ms) for label, ms in floor.samples.items()},
    }


class _PairedFloor:
    """One bare QoS 1 round trip through the same broker just before each trial.

    The machine is shared, so its load changes during a run: a floor sample taken
    next to each trial is what that trial should be compared with.
    """

    def __init__(self, hub: MqttLink) -> None:
        # The hub may read back a sync topic it writes (as in bench/_floor.py); a device
        # that does not exist, so the agent never sees these.
        self.topic = topic_for(TopicKind.SYNC, "door-f100r00000")
        self.back = threading.Event()
        self.samples: dict[str, list[float]] = {label: [] for label in SIZES}
        hub.subscribe(self.topic, lambda *_: self.back.set())
        self.hub = hub

    def trip(self, label: str, *, record: bool) -> None:
        wire = WireMessage(self.topic, bytes(SIZES[label]), qos=1, retain=False, properties=BINARY)
        self.back.clear()
        start = time.perf_counter()
        self.hub.publish(wire)
        if not self.back.wait(5):
            raise TimeoutError(f"floor round trip ({label}) took over 5 s")
        if record:
            self.samples[label].append((time.perf_counter() - start) * 1000)


def _kb_fields(path: Path) -> dict[str, int]:
    """``Name: value [kB]`` lines of a /proc file, as integers."""
    out = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name] = int(parts[0])
    return out


def _rss_by_mapping(pid: int, top: int = 12) -> dict[str, float]:
    """Resident MB per mapping of /proc/<pid>/smaps, summed by file name, largest first.

    ``[anon]`` is the Python object arenas, thread stacks and large buffers; ``[heap]``
    the C heap (pydantic-core's validators, OpenSSL, SQLite...).
    """
    kb: dict[str, int] = {}
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first, *rest = line.split()
        if not first.endswith(":"):  # a mapping's header: address range, perms, ..., path
            name = Path(rest[4]).name if len(rest) > 4 else "[anon]"
        elif first == "Rss:":
            kb[name] = kb.get(name, 0) + int(rest[0])
    largest = sorted(kb.items(), key=lambda item: -item[1])[:top]
    return {mapping: round(size / 1024, 1) for mapping, size in largest}


def measure_process(config: Path, idle_s: float) -> dict:
    """RSS and idle CPU of the agent as it really runs: its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "doorstep", "edge", "--config", str(config), "--simulate"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # imports done, connected, frame buffer running
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu_s() -> float:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        before = cpu_s()
        time.sleep(idle_s)
        cpu = (cpu_s() - before) / idle_s * 100
        status = _kb_fields(Path(f"/proc/{proc.pid}/status"))
        by_mapping = _rss_by_mapping(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    return {
        "rss_mb": round(status["VmRSS"] / 1024, 1),
        # RssAnon: the agent's own data; RssFile: pages of its libraries (cv2, OpenSSL...).
        "rss_anon_mb": round(status["RssAnon"] / 1024, 1),
        "rss_file_mb": round(status["RssFile"] / 1024, 1),
        "threads": status["Threads"],
        # Where the resident memory is: the largest mappings (libraries by file name).
        "rss_mb_by_mapping": by_mapping,
        "idle_cpu_percent_of_one_core": round(cpu, 2),
        "idle_window_s": idle_s,
    }


def measure_memory(idle_s: float) -> dict:
    root = Path(tempfile.mkdtemp(prefix="doorstep-bench-edge-"))
    root.chmod(0o711)
    dep, device, broker = _deployment(root)
    try:
        process = measure_process(_config(dep, device, broker, "idle"), idle_s)
    finally:
        broker.stop()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)
    return {"rss_mb_after_import": import_ladder(), "agent_process": process}


# What the agent's process imports, in the order that adds up its resident memory.
IMPORT_LADDER = (
    "numpy",
    "simplejpeg",
    "nacl.signing",
    "ssl",
    "paho.mqtt.client",
    "pydantic",
    "gpiozero",
    "protocol",
    "firmware_config.device_config",
    "hardware.simulated",
    "edge.runner",
    "edge.cli",
)
_LADDER_SCRIPT = """
import importlib, json, sys
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
steps = {"python": round(rss(), 1)}
for name in sys.argv[1:]:
    importlib.import_module(name)
    steps[name] = round(rss(), 1)
print(json.dumps(steps))
"""


def import_ladder() -> dict[str, float]:
    """Resident MB of a fresh interpreter after each import of the ladder, cumulative."""
    out = subprocess.run(
        [sys.executable, "-c", _LADDER_SCRIPT, *IMPORT_LADDER],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--idle-s", type=float, default=10.0)
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the agent's memory: RSS after each import, and the running process",
    )
    args = parser.parse_args()
    if args.memory_only:
        print(json.dumps(measure_memory(args.idle_s), indent=2))
        return
    load_before = os.getloadavg()
    floor = measure_floor(trials=max(args.trials, 200))
    root = Path(tempfile.mkdtemp(prefix="doorstep-bench-edge-"))
    root.chmod(0o711)
    dep, device, broker = _deployment(root)
    try:
        config = _config(dep, device, broker)
        latency = measure_latency(dep, device, config, args.trials)
        # A fresh outbox: the agent at rest, not replaying the latency run's unconfirmed
        # rings (no hub confirms them here).
        process = measure_process(_config(dep, device, broker, "idle"), args.idle_s)
    finally:
        broker.stop()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)
    mtls = floor["results"]["mtls"]  # type: ignore[index]
    paired = latency.pop("floor_paired")
    ring, unlock = latency["ring_event_received"], latency["unlock_to_relay"]
    result = {
        "benchmark": "edge_latency",
        "trials": args.trials,
        "floor_mtls_64B": mtls["64B"],
        "floor_mtls_60KB": mtls["60KB"],
        # The same round trip, one sample just before each trial (same broker, same load).
        "floor_paired_64B": paired["64B"],
        "floor_paired_60KB": paired["60KB"],
        **latency,
        "ratio_ring_p95_to_floor_60KB_p95": round(ring["p95_ms"] / mtls["60KB"]["p95_ms"], 2),
        "ratio_unlock_p95_to_floor_64B_p95": round(unlock["p95_ms"] / mtls["64B"]["p95_ms"], 2),
        "ratio_ring_p95_to_paired_60KB_p95": round(ring["p95_ms"] / paired["60KB"]["p95_ms"], 2),
        "ratio_unlock_p95_to_paired_64B_p95": round(unlock["p95_ms"] / paired["64B"]["p95_ms"], 2),
        "targets": {"ring_p95_ms": 10, "unlock_p95_ms": 5, "rss_mb": 60},
        "agent_process": process,
        "rss_mb_after_import": import_ladder(),
        # The machine is shared: the 1-minute load average before and after the run.
        "loadavg_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
