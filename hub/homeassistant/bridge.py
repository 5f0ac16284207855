"""The running bridge: announces opted-in doors, mirrors their state, hears requests.

Two threads, so MQTT callbacks only enqueue: one follows the hub's notice board (and
republishes every door's state from the database each ``refresh_interval_s``), one
handles Home Assistant's birth message and lock requests. Only notices this process
posted are mirrored (a relayed one was mirrored by the process that posted it).

    bridge = HomeAssistantBridge(db, link, bus, commands, files, HomeAssistantSettings())
    bridge.start()                 # subscribes, says "online", announces every opted-in door
    bridge.announce(device_id)     # after an admin opts a door in (or changes it)
    bridge.withdraw(device_id)     # after the opt-out: Home Assistant deletes the entities
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from protocol.base import utcnow
from protocol.codec import WireMessage, WireProperties
from protocol.mqtt import MqttLink
from protocol.topics import HA_BIRTH, HA_BRIDGE_STATUS, shared

from ..bus import Notice, NoticeBus, Subscription
from ..commands import CommandService
from ..storage import get_command
from ..storage.database import Database
from ..storage.devices import find_device
from ..storage.models_registry import DeviceHealth
from ..storage.snapshot_files import SnapshotFiles
from . import discovery, pictures
from .requests import LockRequests
from .settings import HomeAssistantSettings
from .store import any_linked, find_link, linked_devices
from .topics import LOCK_SET_FILTER, Entity, availability_topic, device_of_lock_set, state_topic

log = logging.getLogger(__name__)

TEXT = WireProperties(content_type="text/plain")


def bridge_will() -> WireMessage:
    """The hub link's last will: the bridge's retained status turns "offline"."""
    return WireMessage(HA_BRIDGE_STATUS, b"offline", qos=1, retain=True, properties=TEXT)
JSON = WireProperties(content_type="application/json")
JPEG = WireProperties(content_type="image/jpeg")
_STATE_ENTITIES = (
    Entity.LOCK,
    Entity.CONNECTIVITY,
    Entity.LAST_SEEN,
    Entity.CPU_TEMP,
    Entity.OUTBOX,
)
_UP = (DeviceHealth.ONLINE, DeviceHealth.DEGRADED)


class HomeAssistantBridge:
    def __init__(
        self,
        db: Database,
        link: MqttLink,
        bus: NoticeBus,
        commands: CommandService,
        files: SnapshotFiles,
        settings: HomeAssistantSettings,
        *,
        shared_group: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.link = link
        self.bus = bus
        self.files = files
        self.settings = settings
        self.shared_group = shared_group
        self.clock = clock
        self.requests = LockRequests(db, commands, settings, clock=clock)
        self._linked: set[str] = set()
        self._guard = threading.Lock()
        self._inbox: queue.Queue[tuple[str, str, bytes]] = queue.Queue(maxsize=1000)
        self._sub: Subscription | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._sub is not None

    def wanted(self) -> bool:
        """On by setting, or because at least one door is opted in."""
        if self.settings.always_on:
            return True
        with self.db.read_session() as s:
            return any_linked(s)

    def start_if_wanted(self, timeout: float = 5.0) -> bool:
        if self.wanted():
            self.start(timeout)
        return self.running

    def start(self, timeout: float = 5.0) -> None:
        """Subscribe, say the bridge is online and announce every opted-in door (idempotent)."""
        with self._guard:
            if self._sub is not None:
                return
            self._sub = self.bus.subscribe()
            self._stopping.clear()
        lock_set = LOCK_SET_FILTER
        if self.shared_group:  # one hub process answers each request
            lock_set = shared(lock_set, self.shared_group)
        self.link.subscribe(HA_BIRTH, self._enqueue("birth"))
        self.link.subscribe(lock_set, self._enqueue("lock_set"))
        self.link.wait_subscribed(timeout)
        for name, target in (("ha-notices", self._notice_loop), ("ha-inbox", self._inbox_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.announce_all()
        log.info("Home Assistant bridge started")

    def stop(self) -> None:
        with self._guard:
            sub, self._sub = self._sub, None
        if sub is None:
            return
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
        sub.close()
        info = self._publish(HA_BRIDGE_STATUS, b"offline", retain=True, props=TEXT)
        if info is not None:
            with contextlib.suppress(RuntimeError, ValueError):  # broker gone: nothing to say
                info.wait_for_publish(2)

    # -- announcing -------------------------------------------------------------------
    def announce_all(self) -> None:
        self.refresh(announce=True)

    def refresh(self, *, announce: bool = False) -> None:
        """Follow opt-ins and opt-outs (also other hub processes'); republish every state,
        and with ``announce`` every config too (Home Assistant's birth message)."""
        with self.db.read_session() as s:
            wanted = set(linked_devices(s))
        with self._guard:
            known = set(self._linked)
        # Again each time: with several hub processes, one stopping said "offline".
        self._publish(HA_BRIDGE_STATUS, b"online", retain=True, props=TEXT)
        for device_id in sorted(known - wanted):
            self.withdraw(device_id)
        for device_id in sorted(wanted):
            if announce or device_id not in known:
                self.announce(device_id)
            else:
                self.publish_state(device_id)

    def announce(self, device_id: str) -> None:
        """Publish the door's discovery configs and current state (or withdraw it)."""
        with self.db.read_session() as s:
            device = find_device(s, device_id)
            link = find_link(s, device_id)
            if device is None or link is None:
                door = None
            else:
                door = discovery.Door(
                    device.id, device.name, device.software_version, self.settings.configuration_url
                )
                share = link.share_snapshots
        if door is None:
            self.withdraw(device_id)
            return
        with self._guard:
            self._linked.add(device_id)
        prefix = self.settings.discovery_prefix
        for topic, payload in discovery.configs(door, prefix, share_snapshots=share):
            self._publish(topic, payload, retain=True, props=JSON)
        self.publish_state(device_id)

    def withdraw(self, device_id: str) -> None:
        """Empty retained configs (Home Assistant deletes the entities) and states."""
        with self._guard:
            self._linked.discard(device_id)
        for topic, payload in discovery.removals(device_id, self.settings.discovery_prefix):
            self._publish(topic, payload, retain=True, props=JSON)
        for entity in _STATE_ENTITIES:
            self._publish(state_topic(device_id, entity), b"", retain=True, props=TEXT)
        self._publish(availability_topic(device_id), b"", retain=True, props=TEXT)

    def publish_state(self, device_id: str) -> None:
        """Every retained state of the door, from what the hub stored."""
        with self.db.read_session() as s:
            d = find_device(s, device_id)
            if d is None:
                return
            up = d.health in _UP
            values: dict[Entity, str | None] = {
                Entity.LOCK: discovery.lock_payload(d.lock_state),
                Entity.CONNECTIVITY: "ON" if up else "OFF",
                Entity.LAST_SEEN: d.last_seen.isoformat() if d.last_seen else None,
                Entity.CPU_TEMP: None if d.cpu_temp_c is None else f"{d.cpu_temp_c:.1f}",
                Entity.OUTBOX: None if d.outbox_depth is None else str(d.outbox_depth),
            }
        self._availability(device_id, up)
        for entity, value in values.items():
            if value is not None:
                self._state(device_id, entity, value)

    # -- notices ----------------------------------------------------------------------
    def _notice_loop(self) -> None:
        next_refresh = time.monotonic() + self.settings.refresh_interval_s
        while not self._stopping.is_set():
            sub = self._sub
            notice = sub.get(timeout=0.2) if sub is not None else None
            try:
                if notice is not None:
                    self.on_notice(notice)
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + self.settings.refresh_interval_s
                    self.refresh()
            except Exception:  # one bad notice must not end the bridge
                log.exception("Home Assistant bridge: handling %s failed", notice)

    def on_notice(self, notice: Notice) -> None:
        with self._guard:
            linked = notice.device_id in self._linked
        if notice.origin is not None or not linked:
            return
        device, data, kind = notice.device_id, notice.data, notice.kind
        if kind == "state":
            self._state(device, Entity.LOCK, discovery.lock_payload(data["lock"]))
        elif kind == "lock":
            self._state(device, Entity.LOCK, discovery.lock_payload(data["state"]))
        elif kind == "presence":
            self.publish_state(device)
        elif kind == "ring":
            payload = discovery.ring_payload(data.get("at"), data.get("event_id"))
            self._publish(state_topic(device, Entity.RING), payload, retain=False, props=JSON)
        elif kind == "snapshot" and data.get("reason") == "ring":
            self._share_snapshot(device, str(data["snapshot_id"]))
        elif kind == "command":
            self._on_command(device, data)

    def _on_command(self, device_id: str, data: dict[str, Any]) -> None:
        status = data.get("status")
        if status == "sent":
            with self.db.read_session() as s:
                unlock = get_command(s, str(data["command_id"])).action == "unlock"
            if unlock:  # on its way: the door has not said anything yet
                self._state(device_id, Entity.LOCK, discovery.UNLOCKING)
        elif status == "acknowledged" and data.get("lock"):
            self._state(device_id, Entity.LOCK, discovery.lock_payload(data["lock"]))
        else:  # refused, unknown, failed: back to what the door last reported
            self.publish_state(device_id)

    def _share_snapshot(self, device_id: str, snapshot_id: str) -> None:
        jpeg = pictures.picture_to_share(self.db, self.files, device_id, snapshot_id)
        if jpeg is None:
            return
        topic = state_topic(device_id, Entity.SNAPSHOT)
        if self._publish(topic, jpeg, retain=False, props=JPEG) is not None:
            pictures.record_shared(self.db, device_id, snapshot_id, len(jpeg), self.clock())

    # -- Home Assistant's messages ------------------------------------------------------
    def _enqueue(self, kind: str) -> Callable[[str, bytes, WireProperties], None]:
        def put(topic: str, payload: bytes, _props: WireProperties) -> None:
            try:
                self._inbox.put_nowait((kind, topic, payload))
            except queue.Full:
                log.warning("Home Assistant bridge busy: dropped a message on %s", topic)

        return put

    def _inbox_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                kind, topic, payload = self._inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.on_message(kind, topic, payload)
            except Exception:
                log.exception("Home Assistant bridge: message on %s failed", topic)

    def on_message(self, kind: str, topic: str, payload: bytes) -> None:
        if kind == "birth":
            if payload.strip() == b"online":  # Home Assistant (re)started: announce again
                self.announce_all()
            return
        device_id = device_of_lock_set(topic)
        if device_id is None:
            return
        outcome = self.requests.handle(device_id, payload)
        if outcome is not None and not outcome.accepted:
            self.publish_state(device_id)  # Home Assistant shows the real state again

    # -- publishing ---------------------------------------------------------------------
    def _availability(self, device_id: str, up: bool) -> None:
        payload = b"online" if up else b"offline"
        self._publish(availability_topic(device_id), payload, retain=True, props=TEXT)

    def _state(self, device_id: str, entity: Entity, value: str) -> None:
        self._publish(state_topic(device_id, entity), value.encode(), retain=True, props=TEXT)

    def _publish(self, topic: str, payload: bytes, *, retain: bool, props: WireProperties) -> Any:
        try:
            return self.link.publish(WireMessage(topic, payload, 1, retain, props))
        except (RuntimeError, ValueError) as exc:
            log.warning("Home Assistant bridge: publishing on %s failed: %s", topic, exc)
            return None
