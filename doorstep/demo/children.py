"""The demo's child processes: started in their own process group, each logging to a
file, waited for until ready, stopped in reverse order, never left behind.

Each child runs in a process group of its own, so the terminal's Ctrl-C reaches only
the demo, which then stops the door first, the hub next and the broker last. On
Linux each child also gets SIGTERM if the demo itself dies (PR_SET_PDEATHSIG). A child
that must not run as root gets its user here, before that is set: a process that
changes its own user later (Mosquitto started as root does) loses the setting.

    kids = Children()
    kids.start("broker", ["mosquitto", "-c", "m.conf"], Path("logs/broker.log"))
    kids.wait_ready("broker", lambda: port_open(1883), timeout=10)
    kids.stop_all()
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


class ChildFailed(RuntimeError):
    """A child exited or did not become ready; the message says where its log is."""


class Interrupted(RuntimeError):
    """Ctrl-C or SIGTERM arrived while waiting."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.3):
        return True
    return False


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return "(no log)"
    return "\n".join(f"    | {line}" for line in text) or "    | (empty)"


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path


class Children:
    """The running children, in start order."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.stop_requested = stop or threading.Event()
        self._children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
    ) -> Child:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                process_group=0,
                user=user,  # switched before preexec_fn runs, so the death signal stays set
                preexec_fn=_die_with_parent,
            )
        child = Child(name, proc, log)
        self._children.append(child)
        return child

    def get(self, name: str) -> Child:
        return next(c for c in self._children if c.name == name)

    @property
    def pids(self) -> list[int]:
        return [c.proc.pid for c in self._children if c.proc.poll() is None]

    def wait_ready(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        """Poll ``ready`` until true; fail early when the child exits or Ctrl-C comes."""
        child = self.get(name)
        deadline = time.monotonic() + timeout
        while True:
            if self.stop_requested.is_set():
                raise Interrupted(f"stopped while waiting for {name}")
            if child.proc.poll() is not None:
                raise ChildFailed(
                    f"{name} exited with code {child.proc.returncode} while starting; "
                    f"its log {child.log} ends with:\n{log_tail(child.log)}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                raise ChildFailed(
                    f"{name} was not ready after {timeout:.0f} s; "
                    f"its log {child.log} ends with:\n{log_tail(child.log)}"
                )
            self.stop_requested.wait(0.1)

    def first_exited(self) -> Child | None:
        return next((c for c in self._children if c.proc.poll() is not None), None)

    def stop_all(self, timeout: float = 10.0, say: Callable[[str], None] = lambda _m: None) -> None:
        """SIGTERM each child, newest first; SIGKILL any that does not end in ``timeout``."""
        for child in reversed(self._children):
            if child.proc.poll() is None:
                say(f"stopping {child.name} ...")
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    say(f"{child.name} did not stop in {timeout:.0f} s: killing it")
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.proc.pid, signal.SIGKILL)
                    child.proc.wait(timeout)
        self._children.clear()
