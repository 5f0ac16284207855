"""A loopback-only HTTP control for the simulated board (demo and tests only).

It plays the world outside the agent: press the bell, open the door, jam the
lock, cut the camera; and it shows what the agent did (relay, LED, buzzer).
It exists only with ``doorstep edge --simulate``; a real device has no such port.

    $ curl -X POST http://127.0.0.1:PORT/bell/press
    $ curl http://127.0.0.1:PORT/state
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hardware.simulated import SimulatedBoard

log = logging.getLogger(__name__)


def _actions(board: SimulatedBoard) -> dict[str, Callable[[], None]]:
    def ring() -> None:
        board.visitor = True
        board.ring()

    return {
        "/bell/press": board.press_bell,
        "/bell/release": board.release_bell,
        "/bell/ring": ring,
        "/door/open": board.open_door,
        "/door/close": board.close_door,
        "/lock/jam": board.jam_lock,
        "/lock/unjam": board.unjam_lock,
        "/camera/cut": board.cut_camera,
        "/camera/restore": board.restore_camera,
        "/visitor/arrive": lambda: setattr(board, "visitor", True),
        "/visitor/leave": lambda: setattr(board, "visitor", False),
    }


def board_state(board: SimulatedBoard, extra: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return {
        "relay_energised": board.relay_energised,
        "relay_changes": len(board.relay_changes),
        "led_lit": board.led_lit,
        "buzzer_sounding": board.buzzer_sounding,
        "indicator": board.indicator.current.value,
        "door_open": board.door_contact.is_open if board.door_contact else None,
        "lock_position": board.lock.position.value,
        "visitor": board.visitor,
        **extra(),
    }


class SimControl:
    def __init__(
        self, board: SimulatedBoard, port: int = 0, extra_state: Callable[[], dict[str, Any]] = dict
    ) -> None:
        actions = _actions(board)

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/state":
                    self._reply(200, board_state(board, extra_state))
                else:
                    self._reply(404, {"error": f"no such path {self.path}; try GET /state"})

            def do_POST(self) -> None:
                action = actions.get(self.path)
                if action is None:
                    self._reply(
                        404, {"error": f"no action {self.path}", "actions": sorted(actions)}
                    )
                    return
                action()
                self._reply(200, board_state(board, extra_state))

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("sim control: " + fmt, *args)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sim-control", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
