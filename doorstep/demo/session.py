"""One run of ``doorstep demo``: generate, start, tell the person where to go, stop.

Progress goes to standard output, one line per step, so a person (or a test) can
follow it: what is starting, what is ready, where each log is.

    >>> run_demo(DemoOptions(web_port=8080))   # until Ctrl-C or SIGTERM   # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
import sys
import tempfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from firmware_config.errors import ConfigError
from firmware_config.mosquitto import MosquittoMissing, find_mosquitto, free_port, port_is_free

from .children import ChildFailed, Children, Interrupted, port_open
from .provision import DemoDeployment, DemoHome, make_deployment, prepare_hub

HOST = "127.0.0.1"
NO_MOSQUITTO = (
    "Mosquitto (the MQTT broker) is not installed on this machine. Fix: run "
    "'./doorstep.sh demo' from the repository, which installs what is missing, "
    "or 'sudo apt-get install mosquitto'"
)


@dataclass(frozen=True)
class DemoOptions:
    web_port: int = 0  # 0: a free one
    mqtt_port: int = 0
    sim_port: int = 0
    keep: bool = False
    ready_timeout_s: float = 60.0


def say(message: str) -> None:
    print(f"[doorstep] {message}", flush=True)


def choose_ports(opts: DemoOptions) -> dict[str, int]:
    """The given ports if free (else a clear error), free ones for the rest."""
    wanted = {"web": opts.web_port, "mqtt": opts.mqtt_port, "sim": opts.sim_port}
    flags = {"web": "--web-port", "mqtt": "--mqtt-port", "sim": "--sim-port"}
    ports: dict[str, int] = {}
    for name, port in wanted.items():
        if port and not port_is_free(port, HOST):
            raise ConfigError(
                f"port {port} on {HOST} ({flags[name]}) is already in use: stop what uses it "
                f"('ss -ltnp sport = :{port}' shows it), choose another with {flags[name]}, "
                f"or leave {flags[name]} out to use a free port"
            )
        if port and port in ports.values():
            raise ConfigError(f"port {port} is given twice: give each service its own port")
        ports[name] = port
    for name, port in ports.items():
        if name == "sim":
            continue  # the door agent binds a free one itself and reports it (start_all)
        while not port:
            candidate = free_port(HOST)
            port = candidate if candidate not in ports.values() else 0
        ports[name] = port
    return ports


def _http_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    # The demo's settings only: a DOORSTEP_HUB_* left in the shell must not leak in.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DOORSTEP_HUB_", "DOORSTEP_WEB_"))
    }
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _broker_user() -> str | None:
    """As root, start Mosquitto as the user it would switch to anyway (see children.py)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("mosquitto").pw_name
    except KeyError:
        return None


def _port_in(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _doorstep(*args: str) -> list[str]:
    return [sys.executable, "-m", "doorstep", *args]


def start_all(
    demo: DemoDeployment, ports: dict[str, int], kids: Children, opts: DemoOptions
) -> None:
    logs = demo.logs
    say(f"starting Mosquitto (mutual TLS, per-door ACL) on {HOST}:{ports['mqtt']} ...")
    kids.start(
        "Mosquitto",
        [find_mosquitto(), "-c", str(demo.broker.layout.conf)],
        logs / "mosquitto-console.log",
        user=_broker_user(),
    )
    kids.wait_ready("Mosquitto", lambda: port_open(ports["mqtt"]), opts.ready_timeout_s)
    say(f"  ready; log: {demo.broker.layout.log}")

    web = f"http://{HOST}:{ports['web']}"
    say(f"starting the hub and the web app on {web} ...")
    kids.start(
        "hub + web app",
        _doorstep("serve", "--host", HOST, "--port", str(ports["web"])),
        logs / "hub-web.log",
        env=_child_env(demo.hub_environment()),
    )
    kids.wait_ready(
        "hub + web app",
        lambda: _http_json(f"{web}/api/health") == {"ok": True},
        opts.ready_timeout_s,
    )
    say(f"  ready; log: {logs / 'hub-web.log'}")

    say(f"starting the door agent {demo.device_id} on the simulated board ...")
    port_file = logs / "door-simulator.port"
    kids.start(
        "door agent",
        _doorstep(
            "edge",
            "--config",
            str(demo.device_config),
            "--simulate",
            "--control-port",
            str(ports["sim"]),
            "--control-port-file",
            str(port_file),
        ),
        logs / "door-agent.log",
        env=_child_env({}),
    )
    # A free port picked now could be taken before the agent binds it: with no port
    # given, the agent binds any free one and writes it to the file.
    kids.wait_ready("door agent", lambda: _port_in(port_file) > 0, opts.ready_timeout_s)
    ports["sim"] = _port_in(port_file)
    state = f"http://{HOST}:{ports['sim']}/state"
    kids.wait_ready(
        "door agent",
        lambda: bool((_http_json(state) or {}).get("connected")),
        opts.ready_timeout_s,
    )
    say(f"  ready (connected to the broker over mutual TLS); log: {logs / 'door-agent.log'}")


def print_summary(demo: DemoDeployment, home: DemoHome, ports: dict[str, int]) -> None:
    web = f"http://{HOST}:{ports['web']}"
    lines = [
        "",
        "Doorstep is running on this machine.",
        f"  web app:         {web}/",
        f"  door simulator:  http://{HOST}:{ports['sim']}/   (SIMULATOR: the carer's side)",
        f"  home:            Margaret's home (id {home.home_id})",
        f"  door:            {demo.device_id}",
        "",
        "One-time invitations (each works once, for a day; open each in its own browser",
        "profile or private window, choose a username and password, set up the code):",
        *(f"  {i.who + ':':<24} {i.url}" for i in home.invitees),
        "",
        "Try it: accept the family invitation, open the simulator and press 'Ring the bell';",
        "the family page shows the ring; unlock it and watch the simulator's relay and lock.",
        f"Logs: {demo.logs}/ and {demo.broker.layout.log}",
        "(the demo folder is removed when you stop; 'doorstep demo --keep' keeps it)",
        "",
    ]
    print("\n".join(lines), flush=True)
    say("press Ctrl-C to stop.")


def run_demo(opts: DemoOptions) -> int:
    # Migration chatter is not progress a person needs to follow.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    stop = threading.Event()
    # Ctrl-C, a service manager's stop and a closed terminal all stop the demo cleanly.
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in signals}
    kids = Children(stop)
    root: Path | None = None
    failed = False
    try:
        find_mosquitto()
        ports = choose_ports(opts)
        root = Path(tempfile.mkdtemp(prefix="doorstep-demo-"))
        root.chmod(0o711)  # as root, Mosquitto runs as user 'mosquitto': it must reach broker/
        say(f"demo folder: {root} (new for this run)")
        say("generating a deployment: CA, broker and hub certificates, one door's bundle ...")
        demo = make_deployment(root, mqtt_port=ports["mqtt"])
        say(f"  done: {demo.deployment.root}")
        say("preparing the hub's SQLite database: a home, the door, three invitations ...")
        home = prepare_hub(demo, web_url=f"http://{HOST}:{ports['web']}")
        say(f"  done: {demo.database_url}")
        start_all(demo, ports, kids, opts)
        print_summary(demo, home, ports)
        while not stop.wait(0.5):
            gone = kids.first_exited()
            if gone is not None:
                failed = True
                say(
                    f"error: {gone.name} stopped unexpectedly (code {gone.proc.returncode}); "
                    f"see {gone.log}"
                )
                break
    except MosquittoMissing:
        say(f"error: {NO_MOSQUITTO}")
        failed = True
    except (ConfigError, ChildFailed, OSError) as exc:
        say(f"error: {exc}")
        failed = True
    except Interrupted:
        say("interrupted while starting")
    finally:
        kids.stop_all(say=say)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if root is not None:
            if failed or opts.keep:
                say(f"the demo folder and its logs are kept in {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
    say("stopped.")
    return 1 if failed else 0
