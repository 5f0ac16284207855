"""The health monitor: turns silence and lingering states into health and alerts.

Every ``interval_s`` it marks devices degraded or offline when their heartbeats
stop, raises alerts for doors left open or unlocked and rings nobody answered,
and signs an audit checkpoint when one is due.

    >>> HealthMonitor(db, bus, settings, audit_key).start()   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from protocol.base import utcnow
from protocol.device import DoorState, LockState

from .audit import checkpoint_if_due, checkpoint_overdue
from .bus import Notice, NoticeBus
from .runtime_settings import HubRuntimeSettings
from .storage import raise_alert, resolve_open_alert
from .storage.alerts import HUB_SCOPE
from .storage.database import Database
from .storage.devices import list_devices, set_health, silent_devices
from .storage.models_commands import AlertKind
from .storage.models_registry import Device, DeviceHealth

log = logging.getLogger(__name__)


class HealthMonitor:
    def __init__(
        self,
        db: Database,
        bus: NoticeBus,
        settings: HubRuntimeSettings,
        audit_key: Ed25519PrivateKey,
        *,
        checkpoint_interval_s: int = 300,
        checkpoint_overdue_s: int = 900,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.audit_key = audit_key
        self.checkpoint_interval_s = checkpoint_interval_s
        self.checkpoint_overdue_s = checkpoint_overdue_s
        self.clock = clock
        self._rings: dict[str, datetime] = {}  # device -> oldest unanswered ring
        self._rings_lock = threading.Lock()
        self._sub = bus.subscribe()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, name="hub-health", daemon=True),
            threading.Thread(target=self._watch, name="hub-rings", daemon=True),
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        self._sub.close()
        for t in self._threads:
            t.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.health_interval_s):
            try:
                self.check()
            except Exception:
                log.exception("health check failed")

    def _watch(self) -> None:
        """Follow rings and their answers from the notice board."""
        while not self._stop.is_set():
            notice = self._sub.get(timeout=0.5)
            if notice is None:
                continue
            with self._rings_lock:
                if notice.kind == "ring":
                    self._rings.setdefault(notice.device_id, notice.at)
                    continue
                # Someone answered: an unlock was sent, or the door was opened.
                answered = notice.kind == "command" or (
                    notice.kind == "door" and notice.data.get("door") == "open"
                )
                if answered and self._rings.pop(notice.device_id, None) is not None:
                    self._resolve_ring(notice.device_id)

    def _resolve_ring(self, device_id: str) -> None:
        with self.db.session() as s:
            resolve_open_alert(s, AlertKind.UNANSWERED_RING, device_id, at=self.clock())

    def check(self) -> None:
        """One pass (tests call it directly with a controlled clock)."""
        now = self.clock()
        notices: list[Notice] = []
        with self.db.session() as s:
            self._presence(s, now, notices)
            self._lingering(s, now, notices)
            self._unanswered(s, now, notices)
            checkpoint_if_due(s, self.audit_key, now=now, interval_s=self.checkpoint_interval_s)
            if checkpoint_overdue(s, now=now, after_s=self.checkpoint_overdue_s):
                raise_alert(s, AlertKind.AUDIT_CHECKPOINT_OVERDUE, at=now)
            else:
                resolve_open_alert(s, AlertKind.AUDIT_CHECKPOINT_OVERDUE, HUB_SCOPE, at=now)
        for notice in notices:
            self.bus.post(notice)

    def _presence(self, s: Session, now: datetime, notices: list[Notice]) -> None:
        st = self.settings
        offline_before = now - timedelta(seconds=st.offline_after_s)
        degraded_before = now - timedelta(seconds=st.degraded_after_s)
        for device in silent_devices(s, degraded_before):
            if device.health is DeviceHealth.OFFLINE:
                continue
            # A device never heard from counts from its registration, not from the epoch.
            heard = device.last_seen or device.registered_at
            if heard >= degraded_before:
                continue
            health = DeviceHealth.OFFLINE if heard < offline_before else DeviceHealth.DEGRADED
            if set_health(s, device.id, health, now, silent_since=degraded_before):
                notices.append(
                    Notice(
                        "presence",
                        device.id,
                        {"online": False, "health": health.value},
                        device.home_id,
                    )
                )
                if health is DeviceHealth.OFFLINE:
                    raise_alert(
                        s,
                        AlertKind.DEVICE_OFFLINE,
                        at=now,
                        device_id=device.id,
                        details={"cause": "no heartbeat", "last_seen": str(device.last_seen)},
                    )

    def _lingering(self, s: Session, now: datetime, notices: list[Notice]) -> None:
        st = self.settings
        for device in list_devices(s):
            since = device.state_received_at
            if since is None:
                continue
            if device.door_state is DoorState.OPEN and now - since > timedelta(
                seconds=st.door_open_alert_s
            ):
                self._alert(s, AlertKind.DOOR_LEFT_OPEN, device, now, notices)
            if device.lock_state is LockState.RELEASED and now - since > timedelta(
                seconds=st.unlocked_alert_s
            ):
                self._alert(s, AlertKind.DOOR_LEFT_UNLOCKED, device, now, notices)

    def _unanswered(self, s: Session, now: datetime, notices: list[Notice]) -> None:
        limit = timedelta(seconds=self.settings.unanswered_ring_s)
        with self._rings_lock:
            due = [(d, at) for d, at in self._rings.items() if now - at > limit]
            for device_id, _ in due:
                self._rings.pop(device_id)
        for device_id, at in due:
            alert, new = raise_alert(
                s,
                AlertKind.UNANSWERED_RING,
                at=now,
                device_id=device_id,
                details={"ring_at": at.isoformat()},
            )
            if new:
                notices.append(
                    Notice("alert", device_id, {"alert": alert.kind.value, "alert_id": alert.id})
                )

    @staticmethod
    def _alert(
        s: Session, kind: AlertKind, device: Device, now: datetime, notices: list[Notice]
    ) -> None:
        alert, new = raise_alert(s, kind, at=now, device_id=device.id)
        if new:
            notices.append(
                Notice(
                    "alert",
                    device.id,
                    {
                        "alert": kind.value,
                        "alert_id": alert.id,
                    },
                    device.home_id,
                )
            )
