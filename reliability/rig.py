"""The real parts a scenario breaks: a generated deployment, its mutual-TLS Mosquitto, a hub
on SQLite with a family member who may unlock, and edge agents as ``doorstep edge --simulate``
child processes driven through their loopback control port.

    >>> with Rig.start(devices=1) as rig:                       # doctest: +SKIP
    ...     edge = rig.edge(rig.devices[0]).start()
    ...     edge.post("/door/open")
    ...     rig.stored_seqs(rig.devices[0])
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from edge.agent import EdgeAgent
from edge.clock import AgentClock
from edge.options import AgentOptions
from edge.outbox import Outbox
from firmware_config.broker_config import broker_process, broker_settings
from firmware_config.deployment import HUB_SERVICE, Deployment
from firmware_config.device_config import dump_device_config, load_device_config
from firmware_config.mosquitto import MosquittoProcess, free_port, port_is_free
from hardware.simulated import SimulatedBoard
from hub.runtime_settings import HubRuntimeSettings
from hub.service import Hub
from hub.storage import Database, add_membership, create_home, create_person, register_device
from hub.storage.devices import get_device
from hub.storage.models_audit import AuditEntryRow
from hub.storage.models_events import Event
from hub.storage.models_registry import Role
from hub.storage.snapshot_files import SnapshotFiles
from protocol import utcnow
from protocol.mqtt import LinkSettings
from protocol.signing import load_private_key

REPO = Path(__file__).resolve().parent.parent
# ``doorstep edge`` exactly (edge/cli.py's own parser and run()), without loading every other
# command's module: the edge process then imports what a device imports, nothing of the hub.
EDGE_MAIN = (
    "import argparse, sys\n"
    "from edge import cli\n"
    "parser = argparse.ArgumentParser(prog='doorstep')\n"
    "cli.register(parser.add_subparsers())\n"
    "args = parser.parse_args()\n"
    "sys.exit(args.handler(args))\n"
)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        time.sleep(step)


def _die_with_parent() -> None:  # in the child, between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Rig:
    root: Path
    deployment: Deployment
    devices: list[str]
    broker: MosquittoProcess
    db: Database
    home: str
    person: str
    hub: Hub | None = None
    runtime: dict[str, Any] = field(default_factory=dict)
    edges: list[EdgeProcess] = field(default_factory=list)
    _hubs: int = 0

    @classmethod
    def start(cls, devices: int = 1, *, hub: bool = True, **runtime: Any) -> Rig:
        # Under /tmp: Mosquitto drops root to user 'mosquitto' and must reach its folder.
        root = Path(tempfile.mkdtemp(prefix="doorstep-reliability-"))
        root.chmod(0o711)
        dep = Deployment.init(root / "deploy")
        ids = [dep.add_device(name=f"Door {i}", hardware="simulated").id for i in range(devices)]
        broker = broker_process(dep, broker_settings(dep, root / "broker", port=free_port()))
        broker.start()
        db = Database(f"sqlite:///{root / 'hub.sqlite'}")
        db.upgrade()
        now = utcnow()
        with db.session() as s:
            home = create_home(s, name="Reliability home", timezone="Europe/London", at=now).id
            person = create_person(s, display_name="Anna", at=now).id
            add_membership(s, person_id=person, home_id=home, role=Role.FAMILY_MEMBER, at=now)
            for device in ids:
                pem = (dep.device_dir(device) / "device-signing.pub").read_text()
                register_device(
                    s, device_id=device, name="Front door", public_key_pem=pem, at=now, home_id=home
                )
        rig = cls(root, dep, ids, broker, db, home, person, runtime=runtime)
        if hub:
            rig.start_hub()
        return rig

    # -- the hub (in this process: the scenarios break the broker, the edge, the link) --
    def make_hub(self) -> Hub:
        tls = self.deployment.service_tls(HUB_SERVICE)
        settings: dict[str, Any] = {
            "mqtt_host": self.broker.host,
            "mqtt_port": self.broker.port,
            "mqtt_ca": tls.ca,
            "mqtt_cert": tls.cert,
            "mqtt_key": tls.key,
            # One client id for every hub this rig builds: a rebuilt hub takes over the
            # persistent session (and what the broker queued for it) as a restarted one does.
            "mqtt_client_id": "reliability-hub",
            "unlocks_per_minute": 100_000,
            "health_interval_s": 0.5,
        } | self.runtime
        runtime = HubRuntimeSettings(**settings)
        return Hub(
            self.db, SnapshotFiles(self.root / "snapshots"), self.deployment.hub_signer(), runtime
        )

    def start_hub(self) -> Hub:
        self.hub = self.make_hub()
        self.hub.start()
        return self.hub

    # -- edges ----------------------------------------------------------------
    def edge(self, device: str, *, port: int | None = None, **lock: Any) -> EdgeProcess:
        edge = EdgeProcess(self, device, port or self.broker.port, lock)
        self.edges.append(edge)
        return edge

    # -- what the hub stored ------------------------------------------------------
    def stored_events(self, device: str) -> list[Event]:
        with self.db.read_session() as s:
            rows = s.execute(select(Event).where(Event.device_id == device).order_by(Event.id))
            out = list(rows.scalars())
            s.expunge_all()
            return out

    def stored_through(self, device: str) -> int:
        with self.db.read_session() as s:
            return int(get_device(s, device).stored_through)

    def audit(self, action: str) -> list[AuditEntryRow]:
        with self.db.read_session() as s:
            rows = list(
                s.execute(select(AuditEntryRow).where(AuditEntryRow.action == action)).scalars()
            )
            s.expunge_all()
            return rows

    def online_boot(self, device: str) -> str | None:
        """The boot id the hub knows for ``device`` when it is online with a clock, else None."""
        with self.db.read_session() as s:
            d = get_device(s, device)
            ok = d.health.value == "online" and d.monotonic_ms is not None
            return d.boot_id if ok else None

    # -- the broker ----------------------------------------------------------------
    def restart_broker(self, timeout: float = 10.0) -> None:
        """Start the killed broker again on the same port, from the same files."""
        wait_for(lambda: port_is_free(self.broker.port, self.broker.host), timeout, "port free")
        self.broker.start(timeout)

    def stop(self) -> None:
        for edge in self.edges:
            edge.kill()
        if self.hub is not None:
            self.hub.stop()
        self.db.dispose()
        self.broker.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Rig:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def device_agent(
    rig: Rig, device: str, clock: AgentClock | None = None, outbox: Path | None = None
) -> tuple[EdgeAgent, SimulatedBoard]:
    """The real edge agent in this process, on a simulated board (whose relay we can watch)."""
    bundle = rig.deployment.bundles / device
    board = SimulatedBoard(travel_s=0.005)
    agent = EdgeAgent(
        device,
        board.hardware,
        LinkSettings(rig.broker.host, rig.broker.port, device, rig.deployment.device_tls(device)),
        Outbox(outbox or rig.root / f"{device}-agent.sqlite"),
        rig.deployment.hub_signer().public_key(),
        _key(load_private_key(bundle / "keys" / "device-signing.key")),
        AgentOptions(hold_s=0.05, cooldown_s=0, heartbeat_s=5, max_rejection_acks_per_min=10**6),
        clock,
    )
    agent.start()
    return agent, board


def _key(key: Any) -> Ed25519PrivateKey:
    assert isinstance(key, Ed25519PrivateKey)
    return key


class EdgeProcess:
    """``doorstep edge --simulate`` for one door, with its own outbox kept across restarts."""

    def __init__(self, rig: Rig, device: str, port: int, lock: dict[str, Any]) -> None:
        self.rig = rig
        self.device = device
        bundle = rig.deployment.bundles / device
        cfg = load_device_config(bundle / "device.toml")
        self.outbox_path = rig.root / f"{device}-outbox.sqlite"
        cfg = cfg.model_copy(
            update={
                "broker": cfg.broker.model_copy(update={"host": rig.broker.host, "port": port}),
                "outbox": cfg.outbox.model_copy(update={"path": self.outbox_path}),
                # No camera: the scenarios are about events and commands, and the two
                # cores are shared; a short hold so unlocks re-lock quickly.
                "camera": cfg.camera.model_copy(update={"kind": "none"}),
                "lock": cfg.lock.model_copy(update={"hold_s": 0.5, "jam_timeout_s": 0.5} | lock),
                "doorbell": cfg.doorbell.model_copy(update={"cooldown_s": 0.0}),
            }
        )
        self.config = bundle / "reliability-device.toml"  # paths relative to the bundle
        self.config.write_text(dump_device_config(cfg, relative_to=bundle))
        self.port_file = rig.root / f"{device}.port"
        self.log = rig.root / f"{device}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.control = 0
        self.boots = 0

    def start(self, timeout: float = 30.0, *, connected: bool = True) -> EdgeProcess:
        self.port_file.unlink(missing_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", EDGE_MAIN, "edge", "--config", str(self.config),
                 "--simulate", "--control-port", "0", "--control-port-file", str(self.port_file)],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        self.boots += 1

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the edge exited with {self.proc.returncode}:\n{tail}")
            return self.port_file.exists() and self.port_file.read_text().strip() != ""

        wait_for(ready, timeout, "the edge's control port did not open")
        self.control = int(self.port_file.read_text())
        if connected:
            wait_for(lambda: self.state()["connected"], timeout, "the edge did not connect")
        return self

    def _call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return dict(json.loads(r.read()))

    def state(self) -> dict[str, Any]:
        return self._call("GET", "/state")

    def post(self, path: str) -> dict[str, Any]:
        return self._call("POST", path)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no goodbye, no clean shutdown of the outbox."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
