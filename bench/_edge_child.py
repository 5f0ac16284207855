"""The bench door in a process of its own, as on a real Pi (the hub and web app never
share a door's interpreter in a deployment): a real EdgeAgent on a SimulatedBoard,
driven over stdin/stdout one line at a time by ``bench._stack.RemoteBoard``.

    ring          -> ok                 (press and release the bell)
    relay         -> [[monotonic, on], ...]   (CLOCK_MONOTONIC is system-wide on Linux)
    energised     -> true | false
    settled       -> true | false       (relay off and the lock engaged)
    quit          -> (exits)

    $ python -m bench._edge_child '{"device": ..., "broker": [host, port], ...}'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from edge.agent import EdgeAgent
from edge.options import AgentOptions
from edge.outbox import Outbox
from hardware.simulated import SimulatedBoard
from protocol.mqtt import LinkSettings


def main(spec: dict) -> None:
    root = Path(spec["root"])
    device_key = load_pem_private_key((root / "device.key").read_bytes(), None)
    hub_key = load_pem_public_key((root / "hub.pub").read_bytes())
    board = SimulatedBoard(travel_s=spec["travel_s"])
    board.visitor = True  # someone stands at the door: realistic snapshots
    host, port = spec["broker"]
    agent = EdgeAgent(
        spec["device"],
        board.hardware,
        LinkSettings(host=host, port=port, client_id=spec["device"]),
        Outbox(root / "outbox.sqlite"),
        hub_key,  # type: ignore[arg-type]
        device_key,  # type: ignore[arg-type]
        AgentOptions(**spec["options"]),
    )
    agent.start()
    answers = {
        "ring": lambda: (board.ring(), "ok")[1],
        "relay": lambda: board.relay_changes,
        "energised": lambda: board.relay_energised,
        "settled": lambda: not board.relay_energised and agent.lock.state.value == "engaged",
        "connected": lambda: agent.link.wait_connected(10),
    }
    try:
        for line in sys.stdin:
            word = line.strip()
            if word == "quit":
                break
            print(json.dumps(answers[word]()), flush=True)
    finally:
        agent.stop()
        board.close()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
