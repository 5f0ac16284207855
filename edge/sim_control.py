"""A loopback-only HTTP control for the simulated board (demo and tests only).

It plays the world outside the agent: press the bell, open the door, jam the
lock, cut the camera; and it shows what the agent did (relay, LED, buzzer).
It exists only with ``doorstep edge --simulate``; a real device has no such port.
``GET /`` is the door simulator page (edge/sim_page/), which drives the same API.

    $ curl -X POST http://127.0.0.1:PORT/bell/ring
    $ curl http://127.0.0.1:PORT/state
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from hardware.simulated import SimulatedBoard

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# The page's files, served as they are; nothing else under / is reachable.
PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/sim.js": ("sim.js", "text/javascript; charset=utf-8"),
    "/sim.css": ("sim.css", "text/css; charset=utf-8"),
}
# Only the page may use the controls from a browser: no framing, no foreign scripts.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _actions(board: SimulatedBoard, world: dict[str, Any]) -> dict[str, Callable[[], None]]:
    def ring() -> None:
        board.visitor = True
        board.ring()

    def camera(cut: bool) -> Callable[[], None]:
        def act() -> None:
            (board.cut_camera if cut else board.restore_camera)()
            world["camera_cut"] = cut

        return act

    return {
        "/bell/press": board.press_bell,
        "/bell/release": board.release_bell,
        "/bell/ring": ring,
        "/door/open": board.open_door,
        "/door/close": board.close_door,
        "/lock/jam": board.jam_lock,
        "/lock/unjam": board.unjam_lock,
        "/camera/cut": camera(True),
        "/camera/restore": camera(False),
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


def page_file(name: str) -> bytes:
    return resources.files("edge").joinpath("sim_page", name).read_bytes()


class SimControl:
    def __init__(
        self, board: SimulatedBoard, port: int = 0, extra_state: Callable[[], dict[str, Any]] = dict
    ) -> None:
        world: dict[str, Any] = {"camera_cut": False, "simulator": True}
        actions = _actions(board, world)

        def state() -> dict[str, Any]:
            return {**board_state(board, extra_state), **world}

        def own_origin(handler: BaseHTTPRequestHandler) -> bool:
            """Refuse other web pages (cross-site POSTs, DNS rebinding); curl sends no Origin."""
            port_now = handler.server.server_address[1]
            allowed = {f"{LOOPBACK}:{port_now}", f"localhost:{port_now}"}
            if handler.headers.get("Host", f"{LOOPBACK}:{port_now}") not in allowed:
                return False
            origin = handler.headers.get("Origin")
            return origin is None or urlsplit(origin).netloc in allowed

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, data: bytes, ctype: str, extra: dict[str, str]) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self._send(code, data, "application/json", {"Cache-Control": "no-store"})

            def do_GET(self) -> None:
                if not own_origin(self):
                    self._reply(403, {"error": "open the simulator at its own 127.0.0.1 address"})
                elif self.path == "/state":
                    self._reply(200, state())
                elif self.path == "/favicon.ico":
                    self._send(204, b"", "image/x-icon", {})
                elif self.path in PAGE_FILES:
                    name, ctype = PAGE_FILES[self.path]
                    self._send(200, page_file(name), ctype, PAGE_HEADERS)
                else:
                    self._reply(404, {"error": f"no such path {self.path}; try GET /state"})

            def do_POST(self) -> None:
                if not own_origin(self):
                    self._reply(403, {"error": "only the simulator page may press its buttons"})
                    return
                action = actions.get(self.path)
                if action is None:
                    self._reply(
                        404, {"error": f"no action {self.path}", "actions": sorted(actions)}
                    )
                    return
                action()
                self._reply(200, state())

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("sim control: " + fmt, *args)

        # Loopback only, always: the simulator's buttons open the (simulated) door.
        self._server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self._server.daemon_threads = True
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
