"""The health monitor: turns silence and lingering states into health and alerts.

Every ``health_interval_s`` it marks devices degraded or offline when their
heartbeats stop, raises alerts for doors left open or unlocked and rings nobody
answered, and raises ``audit_checkpoint_overdue`` when the checkpoint job has not
signed one for ``checkpoint_overdue_s``. Each pass reads only the devices whose
silence or state just crossed a limit (``storage.sweeps``, indexed), never the fleet.

    >>> HealthMonitor(db, bus, settings).start()   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from protocol.base import utcnow

from .audit import checkpoint_overdue
from .bus import Notice, NoticeBus
from .runtime_settings import HubRuntimeSettings
from .storage import raise_alert, resolve_open_alert
from .storage.alerts import HUB_SCOPE
from .storage.database import Database
from .storage.devices import set_health
from .storage.models_commands import AlertKind
from .storage.models_registry import DeviceHealth
from .storage.sweeps import lingering_doors, presence_candidates

log = logging.getLogger(__name__)


class HealthMonitor:
    def __init__(
        self,
        db: Database,
        bus: NoticeBus,
        settings: HubRuntimeSettings,
        *,
        checkpoint_overdue_s: int = 900,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.checkpoint_overdue_s = checkpoint_overdue_s
        self.clock = clock
        self.chunk = 500  # devices marked per transaction
        self.max_chunks = 400  # per pass; the next pass goes on
        self._rings: dict[str, datetime] = {}  # device -> oldest unanswered ring
        self._alerted: set[str] = set()  # devices whose unanswered-ring alert is raised
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
                if not answered:
                    continue
                waiting = self._rings.pop(notice.device_id, None) is not None
                resolve = waiting or notice.device_id in self._alerted
                # Also after the alert: a late answer resolves it.
                self._alerted.discard(notice.device_id)
            # Outside the lock: check() holds a write transaction while it takes this lock,
            # so writing here under it could wait on SQLite's lock until the busy timeout.
            if resolve:
                self._resolve_ring(notice.device_id)

    def pending_rings(self) -> dict[str, datetime]:
        """Rings nobody has answered yet, by device (hub time of the oldest)."""
        with self._rings_lock:
            return dict(self._rings)

    def _resolve_ring(self, device_id: str) -> None:
        with self.db.session() as s:
            resolve_open_alert(s, AlertKind.UNANSWERED_RING, device_id, at=self.clock())

    def check(self) -> None:
        """One pass (tests call it directly with a controlled clock)."""
        now = self.clock()
        notices: list[Notice] = []
        # Presence in bounded transactions: when a whole fleet falls silent at once
        # (a broker restart), one transaction marking 100,000 devices would hold the
        # database's write lock for minutes and stall ingest.
        for _ in range(self.max_chunks):
            with self.db.session() as s:
                changed = self._presence(s, now, notices)
            if changed < self.chunk or self._stop.wait(0.01):
                break
        with self.db.session() as s:
            self._lingering(s, now, notices)
            self._unanswered(s, now, notices)
            if checkpoint_overdue(s, now=now, after_s=self.checkpoint_overdue_s):
                raise_alert(s, AlertKind.AUDIT_CHECKPOINT_OVERDUE, at=now)
            else:
                resolve_open_alert(s, AlertKind.AUDIT_CHECKPOINT_OVERDUE, HUB_SCOPE, at=now)
        for notice in notices:
            self.bus.post(notice)

    def _presence(self, s: Session, now: datetime, notices: list[Notice]) -> int:
        """Mark up to ``chunk`` silent devices; return how many candidates there were."""
        st = self.settings
        offline_before = now - timedelta(seconds=st.offline_after_s)
        degraded_before = now - timedelta(seconds=st.degraded_after_s)
        candidates = presence_candidates(
            s, degraded_before=degraded_before, offline_before=offline_before, limit=self.chunk
        )
        for device in candidates:
            offline = device.heard < offline_before
            health = DeviceHealth.OFFLINE if offline else DeviceHealth.DEGRADED
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
        return len(candidates)

    def _lingering(self, s: Session, now: datetime, notices: list[Notice]) -> None:
        st = self.settings
        for door in lingering_doors(
            s,
            door_open_before=now - timedelta(seconds=st.door_open_alert_s),
            unlocked_before=now - timedelta(seconds=st.unlocked_alert_s),
        ):
            self._alert(s, door.kind, door.id, door.home_id, now, notices)

    def _unanswered(self, s: Session, now: datetime, notices: list[Notice]) -> None:
        limit = timedelta(seconds=self.settings.unanswered_ring_s)
        with self._rings_lock:
            due = [(d, at) for d, at in self._rings.items() if now - at > limit]
            for device_id, _ in due:
                self._rings.pop(device_id)
                self._alerted.add(device_id)
        for device_id, at in due:
            # Raised at the moment the ring went unanswered, the same in every hub
            # process that saw the ring (relayed notices keep its time): counted once.
            alert, new = raise_alert(
                s,
                AlertKind.UNANSWERED_RING,
                at=at + limit,
                device_id=device_id,
                details={"ring_at": at.isoformat()},
                once_per_time=True,
            )
            if new:
                notices.append(
                    Notice("alert", device_id, {"alert": alert.kind.value, "alert_id": alert.id})
                )

    @staticmethod
    def _alert(
        s: Session,
        kind: AlertKind,
        device_id: str,
        home_id: str | None,
        now: datetime,
        notices: list[Notice],
    ) -> None:
        alert, new = raise_alert(s, kind, at=now, device_id=device_id)
        if new:
            notices.append(
                Notice("alert", device_id, {"alert": kind.value, "alert_id": alert.id}, home_id)
            )
