"""Periodic heartbeat: health figures the telecare dashboard shows.

>>> TelemetryReporter(agent, interval_s=30).start()   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from protocol.base import LATEST_SCHEMA_VERSION
from protocol.codec import encode
from protocol.device import Telemetry

if TYPE_CHECKING:
    from .agent import EdgeAgent

log = logging.getLogger(__name__)

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def cpu_temperature_c(path: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature on a Pi (millidegrees in sysfs); None where there is none."""
    try:
        return round(int(path.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def disk_free_bytes(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


class TelemetryReporter:
    def __init__(self, agent: EdgeAgent, *, interval_s: float) -> None:
        self.agent = agent
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def snapshot(self) -> Telemetry:
        a = self.agent
        depth, size = a.outbox.stats()
        return Telemetry(
            device=a.device_id,
            boot_id=a.clock.boot_id,
            at=a.clock.now(),
            monotonic_ms=a.clock.monotonic_ms(),
            clock_synced=a.clock.synced(),
            uptime_s=int(a.clock.monotonic_ms() // 1000),
            software_version=a.options.software_version,
            # The hub sends v2 commands only to a device that says it speaks v2.
            protocol_version=str(LATEST_SCHEMA_VERSION),
            cpu_temp_c=cpu_temperature_c(),
            disk_free_bytes=disk_free_bytes(a.outbox.path.parent),
            # Held in memory while the outbox cannot be written: waiting all the same.
            outbox_depth=depth + a.recorder.held,
            outbox_bytes=size,
            outbox_dropped=a.outbox.dropped_total,
            last_seq=a.outbox.last_seq,
            command_counter=a.guard.counter,
            heartbeat_interval_s=max(1, int(self.interval_s)),
        )

    def send_now(self) -> None:
        self.agent.run_soon(self.agent.report_drops)
        if self.agent.link.connected:
            self.agent.link.publish(encode(self.snapshot()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.send_now()
            except Exception:
                log.exception("telemetry failed")
