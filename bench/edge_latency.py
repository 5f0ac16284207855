"""Edge latency through the mutual-TLS broker, with the MQTT floor measured in the same run.

- ring: finger on the simulated bell -> ring event (after its snapshot) received by a
  hub-side subscriber;
- unlock: signed unlock published by the hub side -> lock relay pin energised;
- the agent's resident memory and idle CPU, as a separate ``doorstep edge --simulate``
  process.

    $ .venv/bin/python bench/edge_latency.py --trials 200
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

from bench._floor import measure_floor, percentiles
from edge.options import AgentOptions
from edge.runner import build_agent
from firmware_config.broker_config import broker_process, broker_settings
from firmware_config.deployment import Deployment
from firmware_config.device_config import dump_device_config, load_device_config
from firmware_config.mosquitto import free_port
from protocol import (
    DoorbellRang,
    TopicKind,
    UnlockDoor,
    decode,
    encode_signed,
    new_message_id,
    sign,
    utcnow,
)
from protocol.mqtt import LinkSettings, MqttLink
from protocol.topics import PREFIX


def _deployment(root: Path) -> tuple[Deployment, str, object]:
    dep = Deployment.init(root / "deploy")
    device = dep.add_device(name="Bench door", hardware="simulated").id
    broker = broker_process(dep, broker_settings(dep, port=free_port())).start()
    return dep, device, broker


def _config(dep: Deployment, device: str, broker: object) -> Path:
    bundle = dep.bundles / device
    cfg = load_device_config(bundle / "device.toml")
    cfg = cfg.model_copy(
        update={"broker": cfg.broker.model_copy(update={"host": broker.host, "port": broker.port})}
    )  # type: ignore[attr-defined]
    path = bundle / "bench-device.toml"
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
        frame_interval_s=0.05,
        max_rejection_acks_per_min=10_000,
    )
    agent.lock.hold_s = 0.05
    arrived = threading.Event()
    ring_at: list[float] = []

    def on_event(topic: str, payload: bytes, props: object) -> None:
        if isinstance(decode(topic, payload).message, DoorbellRang):
            ring_at.append(time.perf_counter())
            arrived.set()

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
    hub.start()
    agent.start()
    agent.link.wait_connected(10)
    time.sleep(0.5)  # the frame buffer fills
    board.visitor = True  # type: ignore[attr-defined]
    ring_ms: list[float] = []
    for i in range(trials + 20):
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
        before = len(board.relay_changes)  # type: ignore[attr-defined]
        acked.clear()
        start = time.monotonic()
        hub.publish(wire)
        if not acked.wait(5):
            raise TimeoutError(f"unlock {i}: no acknowledgement")
        changes = board.relay_changes[before:]  # type: ignore[attr-defined]
        energised = next(t for t, on in changes if on)
        if i >= 20:
            unlock_ms.append((energised - start) * 1000)
        # Wait for the full re-lock (bolt travel included) before the next trial.
        while board.relay_energised or agent.lock.state.value != "engaged":  # type: ignore[attr-defined]
            time.sleep(0.005)
    agent.stop()
    hub.stop()
    built.hardware.close()
    return {"ring_event_received": percentiles(ring_ms), "unlock_to_relay": percentiles(unlock_ms)}


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
        rss_kb = next(
            int(line.split()[1])
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
            if line.startswith("VmRSS:")
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    return {
        "rss_mb": round(rss_kb / 1024, 1),
        "idle_cpu_percent_of_one_core": round(cpu, 2),
        "idle_window_s": idle_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--idle-s", type=float, default=10.0)
    args = parser.parse_args()
    floor = measure_floor(trials=max(args.trials, 200))
    root = Path(tempfile.mkdtemp(prefix="doorstep-bench-edge-"))
    root.chmod(0o711)
    dep, device, broker = _deployment(root)
    try:
        config = _config(dep, device, broker)
        latency = measure_latency(dep, device, config, args.trials)
        process = measure_process(config, args.idle_s)
    finally:
        broker.stop()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)
    mtls = floor["results"]["mtls"]  # type: ignore[index]
    result = {
        "benchmark": "edge_latency",
        "trials": args.trials,
        "floor_mtls_64B": mtls["64B"],
        "floor_mtls_60KB": mtls["60KB"],
        **latency,
        "ratio_ring_p95_to_floor_60KB_p95": round(
            latency["ring_event_received"]["p95_ms"] / mtls["60KB"]["p95_ms"], 2
        ),
        "ratio_unlock_p95_to_floor_64B_p95": round(
            latency["unlock_to_relay"]["p95_ms"] / mtls["64B"]["p95_ms"], 2
        ),
        "targets": {"ring_p95_ms": 10, "unlock_p95_ms": 5, "rss_mb": 60},
        "agent_process": process,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
