"""The whole Doorstep stack, for benchmarks that go from the door to a browser:
a private Mosquitto, a real Hub on SQLite, a real EdgeAgent on a SimulatedBoard, and the
web app served by uvicorn on a free loopback port, with one family member who can unlock.
The door runs in this process, or (``door_process=True``) in one of its own as on a Pi.

    >>> with running_stack(Path("/tmp/x")) as stack:           # doctest: +SKIP
    ...     stack.board.ring()
    ...     print(stack.base_url, stack.username, stack.totp_code())
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.agent import EdgeAgent
from edge.options import AgentOptions
from edge.outbox import Outbox
from firmware_config.mosquitto import (
    BrokerLayout,
    BrokerSettings,
    MosquittoProcess,
    free_port,
    plain_config,
)
from hardware.simulated import SimulatedBoard
from hub.runtime_settings import HubRuntimeSettings
from hub.service import Hub
from hub.storage import (
    Database,
    SnapshotFiles,
    add_membership,
    create_home,
    create_person,
    register_device,
)
from hub.storage.accounts import Passwords, confirm_totp, create_account, start_totp
from hub.storage.devices import get_device
from hub.storage.models_registry import Role
from mobile_api.app import create_app
from mobile_api.settings import WebSettings
from protocol import new_device_id, utcnow
from protocol.mqtt import LinkSettings
from protocol.signing import private_key_pem, public_key_pem

USERNAME = "bench-anna"
PASSWORD = "bench password, long enough"


class SteppingClock:
    """The web app's clock: real time plus an offset moved on by one TOTP step per code,
    because each code is accepted once and the page asks for one on every unlock."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def code(self, secret: str) -> str:
        self.offset += timedelta(seconds=30)
        return pyotp.TOTP(secret).at(self())


class RemoteBoard:
    """The simulated board of a door running in its own process (``bench._edge_child``),
    with the few things the benchmarks ask of a board."""

    def __init__(self, root: Path, spec: dict[str, Any]) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench._edge_child", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(root / "door.log").open("ab"),
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def _ask(self, word: str) -> Any:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(word + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the door process ended (exit {self._proc.poll()}): see door.log")
        return json.loads(line)

    def ring(self) -> None:
        self._ask("ring")

    @property
    def relay_changes(self) -> list[tuple[float, bool]]:
        return [(t, on) for t, on in self._ask("relay")]

    @property
    def relay_energised(self) -> bool:
        return bool(self._ask("energised"))

    def settled(self) -> bool:
        return bool(self._ask("settled"))

    def wait_connected(self) -> bool:
        return bool(self._ask("connected"))

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                self._ask_quit()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()

    def _ask_quit(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write("quit\n")
        self._proc.stdin.close()


@dataclass
class Stack:
    base_url: str
    home: str
    device: str
    board: SimulatedBoard | RemoteBoard
    agent: EdgeAgent | None  # None: the door runs in its own process
    hub: Hub
    clock: SteppingClock
    totp_secret: str
    broker_host: str
    broker_port: int
    username: str = USERNAME
    password: str = PASSWORD

    def totp_code(self) -> str:
        return self.clock.code(self.totp_secret)

    def door_settled(self) -> bool:
        """The relay is off and the door's lock is engaged again."""
        if self.agent is None:
            assert isinstance(self.board, RemoteBoard)
            return self.board.settled()
        return not self.board.relay_energised and self.agent.lock.state.value == "engaged"


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.02)


def _seed(db: Database, device_key: Ed25519PrivateKey) -> tuple[str, str, str, str]:
    """A home, its door, and a family member with a password and a confirmed second factor."""
    now = utcnow()
    with db.session() as s:
        home = create_home(s, name="Bench home", timezone="Europe/London", at=now).id
        device = new_device_id()
        register_device(
            s,
            device_id=device,
            name="Front door",
            public_key_pem=public_key_pem(device_key.public_key()).decode(),
            at=now,
            home_id=home,
        )
        person = create_person(s, display_name="Anna", at=now).id
        add_membership(s, person_id=person, home_id=home, role=Role.FAMILY_MEMBER, at=now)
        create_account(
            s, Passwords(), person_id=person, username=USERNAME, password=PASSWORD, at=now
        )
        secret = start_totp(s, person)
        if not confirm_totp(s, person, pyotp.TOTP(secret).now(), at=now):
            raise RuntimeError("could not confirm the bench member's TOTP: is the clock sane?")
    return home, device, person, secret


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    _wait(lambda: server.started, 10, "uvicorn did not start")
    return server, thread, port


@contextmanager
def running_stack(
    root: Path | None = None,
    *,
    hold_s: float = 0.3,
    travel_s: float = 0.01,
    door_process: bool = False,
) -> Iterator[Stack]:
    """Start everything; stop it all on exit. ``hold_s`` is how long an unlock lasts;
    ``door_process`` runs the door in a process of its own, as on a real Pi."""
    made_root = root is None
    root = root or Path(tempfile.mkdtemp(prefix="doorstep-bench-stack-"))
    (root / "broker").mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)  # Mosquitto drops root to user 'mosquitto' and must reach its folder
    settings = BrokerSettings(layout=BrokerLayout(root / "broker"), port=free_port())
    broker = MosquittoProcess(settings, plain_config(settings)).start()
    db = Database(f"sqlite:///{root / 'hub.sqlite'}")
    db.upgrade()
    signer = Ed25519PrivateKey.generate()
    device_key = Ed25519PrivateKey.generate()
    home, device, _person, secret = _seed(db, device_key)
    runtime = HubRuntimeSettings(
        mqtt_host=broker.host,
        mqtt_port=broker.port,
        mqtt_client_id="bench-hub",
        unlocks_per_minute=10_000,  # the bench unlocks far faster than anyone would
        health_interval_s=1.0,
    )
    hub = Hub(db, SnapshotFiles(root / "snapshots"), signer, runtime)
    options = {
        "hold_s": hold_s,
        "cooldown_s": 0.0,
        "heartbeat_s": 3600,
        "frame_interval_s": 0.05,
        "max_rejection_acks_per_min": 10_000,
    }
    board: SimulatedBoard | RemoteBoard
    agent: EdgeAgent | None = None
    if door_process:
        (root / "device.key").write_bytes(private_key_pem(device_key))
        (root / "hub.pub").write_bytes(public_key_pem(signer.public_key()))
        spec = {"root": str(root), "device": device, "broker": [broker.host, broker.port],
                "travel_s": travel_s, "options": options}  # fmt: skip
        board = RemoteBoard(root, spec)
    else:
        board = SimulatedBoard(travel_s=travel_s)
        board.visitor = True  # someone stands at the door: realistic snapshots
        agent = EdgeAgent(
            device,
            board.hardware,
            LinkSettings(host=broker.host, port=broker.port, client_id=device),
            Outbox(root / "outbox.sqlite"),
            signer.public_key(),
            device_key,
            AgentOptions(**options),  # type: ignore[arg-type]
        )
    server = thread = None
    try:
        hub.start()
        if agent is not None:
            agent.start()
        connected = agent.link.wait_connected(10) if agent else board.wait_connected()
        if not connected:
            raise TimeoutError("the edge agent did not reach the bench broker within 10 s")

        def online() -> bool:
            with db.read_session() as s:
                d = get_device(s, device)
                return d.health.value == "online" and d.monotonic_ms is not None

        _wait(online, 15, "the hub did not see the door online")
        clock = SteppingClock()
        # Plain HTTP on loopback: Chromium treats localhost as a secure context, so the
        # Secure, __Host- cookie still works.
        app = create_app(hub, WebSettings(), clock=clock)
        server, thread, port = _serve(app)
        url = f"http://localhost:{port}"
        yield Stack(url, home, device, board, agent, hub, clock, secret, broker.host, broker.port)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(10)
        if agent is not None:
            agent.stop()
        board.close()
        hub.stop()
        db.dispose()
        broker.stop()
        if made_root:  # a folder of our own: leave nothing behind in /tmp
            shutil.rmtree(root, ignore_errors=True)
