"""``doorstep edge``: run the device agent (on a Pi, or on the simulated board)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help="run the doorbell + lock agent on this device")
    p.add_argument("--config", type=Path, required=True, help="the device's TOML file")
    p.add_argument(
        "--simulate",
        action="store_true",
        help="use the simulated board instead of GPIO and a real camera",
    )
    p.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="with --simulate: serve the board's loopback control on this port (0 = any free port)",
    )
    p.add_argument(
        "--control-port-file",
        type=Path,
        default=None,
        help="write the control port number to this file once it listens",
    )
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="log lines as text or one JSON object each (default: $DOORSTEP_LOG_FORMAT or text)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import os
    import signal
    import threading

    from firmware_config.device_config import check_device_config, load_device_config
    from protocol.logs import apply_log_format

    from .memory import release_startup_memory, tune_malloc
    from .runner import build_agent

    apply_log_format(getattr(args, "log_format", None), os.environ)
    log = logging.getLogger("doorstep.edge")
    # Before the agent's threads and camera buffers exist: see edge/memory.py.
    tune_malloc()
    problems = check_device_config(args.config)
    if problems:
        for problem in problems:
            print(f"{args.config}: {problem}")
        return 1
    cfg = load_device_config(args.config)
    built = build_agent(cfg, simulate=args.simulate)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    built.agent.start()
    control = None
    if args.simulate and args.control_port is not None:
        from .sim_control import SimControl

        agent = built.agent

        def extra() -> dict[str, object]:
            depth, _ = agent.outbox.stats()
            return {
                "lock_state": agent.lock.state.value,
                "privacy": agent.privacy,
                "connected": agent.link.connected,
                "outbox_depth": depth,
                "last_seq": agent.outbox.last_seq,
                "device": agent.device_id,
            }

        control = SimControl(built.board, args.control_port, extra)  # type: ignore[arg-type]
        control.start()
        log.info("simulated board control on http://127.0.0.1:%d", control.port)
        if args.control_port_file:
            args.control_port_file.write_text(str(control.port))
    log.info(
        "edge agent %s running (%s); broker %s:%d",
        cfg.device.id,
        "simulated board" if args.simulate else "GPIO",
        cfg.broker.host,
        cfg.broker.port,
    )
    release_startup_memory()
    _notify_systemd("READY=1")
    while not stop.wait(10):
        # Only a responsive worker keeps the watchdog quiet; a hung one gets restarted.
        if built.agent.alive():
            _notify_systemd("WATCHDOG=1")
    if control is not None:
        control.stop()
    built.agent.stop()
    built.hardware.close()
    return 0


def _notify_systemd(state: str) -> None:
    """sd_notify without a dependency: systemd's watchdog restarts a hung agent."""
    import os
    import socket

    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(state.encode(), addr)
