"""Nothing lost: the broker dies mid-stream, the agent is SIGKILLed; every event
still reaches the hub side, in order, and the lock comes up engaged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from firmware_config.device_config import dump_device_config
from protocol import DeviceState, DoorClosed, DoorOpened, LockChanged, LockState, decode
from protocol.codec import WireProperties
from protocol.events import EventBase
from protocol.topics import PREFIX
from tests.edge.rig import Rig


def _seqs(messages: list) -> list[int]:
    return [m.seq for m in messages if isinstance(m, EventBase)]


def test_broker_killed_mid_stream_loses_nothing(fresh_broker):
    rig = Rig(
        fresh_broker,
        Path(tempfile.mkdtemp(prefix="doorstep-edge-")),
        hub_client_id="test-hub-persistent",
    ).start()
    try:
        stop = threading.Event()

        def door_traffic() -> None:
            for i in range(120):
                (rig.board.open_door if i % 2 == 0 else rig.board.close_door)()
                time.sleep(0.005)
            stop.set()

        worker = threading.Thread(target=door_traffic)
        worker.start()
        time.sleep(0.15)
        fresh_broker.kill()  # kill -9 while events are flowing
        time.sleep(0.3)
        fresh_broker.start()
        worker.join()
        # The agent numbers each change on its own worker: give it a moment to catch up.
        deadline = time.monotonic() + 10
        while rig.agent.outbox.last_seq < 121 and time.monotonic() < deadline:
            time.sleep(0.02)
        last = rig.agent.outbox.last_seq
        assert last >= 121  # boot lock event + 120 door events
        msgs = rig.view.wait(lambda ms: set(range(1, last + 1)) <= set(_seqs(ms)), timeout=30)
        seqs = _seqs(msgs)
        assert set(seqs) >= set(range(1, last + 1)), "an event was lost"
        first_arrivals = list(dict.fromkeys(seqs))
        assert first_arrivals == sorted(first_arrivals), "events must arrive in order"
        doors = [m for m in msgs if isinstance(m, DoorOpened | DoorClosed)]
        assert len({m.seq for m in doors}) == 120
    finally:
        rig.stop()


def _run_agent(config: Path, port_file: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "doorstep",
            "edge",
            "--config",
            str(config),
            "--simulate",
            "--control-port",
            "0",
            "--control-port-file",
            str(port_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _control(port_file: Path, path: str, timeout: float = 20) -> dict:
    import json
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            port = int(port_file.read_text())
            method = "GET" if path == "/state" else "POST"
            req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
            with urllib.request.urlopen(req, timeout=2) as resp:
                return json.loads(resp.read())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError(f"sim control {path} did not answer")


def _wait_for_seq(port_file: Path, seq: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _control(port_file, "/state")["last_seq"] < seq:
        assert time.monotonic() < deadline, f"the agent never numbered event {seq}"
        time.sleep(0.01)


@pytest.mark.timeout(180)
def test_sigkilled_agent_replays_outbox_and_boots_locked():
    from tests.fixtures.tls_broker import start_tls_broker

    with start_tls_broker(devices=1) as broker:
        device = broker.devices[0]
        cfg = broker.device_config(device)
        bundle = broker.deployment.bundles / device
        config = bundle / "test-device.toml"
        config.write_text(dump_device_config(cfg, relative_to=bundle))
        received: list = []
        cond = threading.Condition()

        def on_message(topic: str, payload: bytes, props: WireProperties) -> None:
            msg = decode(topic, payload, props).message
            with cond:
                received.append(msg)
                cond.notify_all()

        from protocol.mqtt import MqttLink

        hub = MqttLink(broker.link_settings("hub", client_id="hub-kill-test", clean_start=False))
        hub.subscribe(f"{PREFIX}/{device}/event/+", on_message)
        hub.subscribe(f"{PREFIX}/{device}/state", on_message)
        hub.start()
        port_file = Path(tempfile.mkdtemp()) / "port"

        def boot_events() -> set[int]:
            return {
                m.seq
                for m in received
                if isinstance(m, LockChanged)
                and m.cause.value == "boot"
                and m.state is LockState.ENGAGED
            }

        try:
            boots = 0
            for round_ in range(3):
                proc = _run_agent(config, port_file)
                boots += 1
                state = _control(port_file, "/state")
                assert state["relay_energised"] is False, "the lock must be engaged at boot"
                with cond:
                    assert cond.wait_for(lambda n=boots: len(boot_events()) >= n, 30)
                first_door_seq = _control(port_file, "/state")["last_seq"] + 1
                for _ in range(3):
                    _control(port_file, "/door/open")
                    _control(port_file, "/door/close")
                # The agent numbers each change on its own worker. Wait until all but the
                # last are numbered, so each kill can take at most one unrecorded change
                # with it: the test is about what was recorded, not a busy machine's lag.
                _wait_for_seq(port_file, first_door_seq + 4)
                time.sleep(0.05 * round_)  # kill at a different moment each round
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                port_file.unlink(missing_ok=True)
            # A last clean start: it must replay whatever the kills left unsent.
            proc = _run_agent(config, port_file)
            last_seq = _control(port_file, "/state")["last_seq"]

            def seqs() -> set[int]:
                return {m.seq for m in received if isinstance(m, EventBase)}

            def doors() -> set[int]:
                return {m.seq for m in received if isinstance(m, DoorOpened | DoorClosed)}

            with cond:
                cond.wait_for(lambda: seqs() >= set(range(1, last_seq + 1)), 30)
            # Every event the agent recorded arrives; a press in the very moment of a
            # SIGKILL may never have been recorded, which is not a loss of an event.
            assert seqs() >= set(range(1, last_seq + 1)), "recorded events were lost"
            assert len(doors()) >= 3 * 6 - 3
            assert len(boot_events()) == boots + 1, "every start engages the lock first"
            states = [m for m in received if isinstance(m, DeviceState)]
            assert states, "the agent publishes its retained state"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            hub.stop()
        from edge.outbox import Outbox

        assert Outbox(cfg.outbox.path).integrity_ok()
