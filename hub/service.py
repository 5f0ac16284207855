"""The running hub: storage, MQTT link, ingest, commands, health, jobs, one notice board.

>>> hub = Hub.from_settings(HubSettings(), HubRuntimeSettings())   # doctest: +SKIP
>>> hub.start(); ...; hub.stop()                                    # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.base import utcnow
from protocol.mqtt import LinkSettings, MqttLink, TlsFiles
from protocol.signing import load_private_key

from .bus import NoticeBus
from .checkpoint_job import CheckpointJob
from .commands import CommandService
from .escalation import EscalationEngine
from .health import HealthMonitor
from .homeassistant import HomeAssistantBridge, HomeAssistantSettings
from .homeassistant.bridge import bridge_will
from .ingest import Ingest
from .jobs import PeriodicJobs
from .notice_relay import NoticeRelay, relay_enabled
from .retention import RetentionJob
from .runtime_settings import HubRuntimeSettings
from .settings import HubSettings
from .storage.database import Database
from .storage.snapshot_files import SnapshotFiles
from .visit_records import VisitRecordsJob
from .webhooks.settings import WebhookSettings
from .webhooks.worker import WebhookWorker

log = logging.getLogger(__name__)


def link_settings(runtime: HubRuntimeSettings) -> LinkSettings:
    tls = None
    if runtime.mqtt_ca and runtime.mqtt_cert and runtime.mqtt_key:
        tls = TlsFiles(ca=runtime.mqtt_ca, cert=runtime.mqtt_cert, key=runtime.mqtt_key)
    # A persistent session: the broker queues device messages while the hub restarts.
    # The will tells Home Assistant the bridge is gone when the hub dies without a word
    # (a clean stop says so itself); other hub processes re-assert "online" on refresh.
    return LinkSettings(
        host=runtime.mqtt_host,
        port=runtime.mqtt_port,
        client_id=runtime.mqtt_client_id,
        tls=tls,
        clean_start=False,
        will=bridge_will(),
    )


class Hub:
    def __init__(
        self,
        db: Database,
        files: SnapshotFiles,
        signer: Ed25519PrivateKey,
        runtime: HubRuntimeSettings,
        *,
        audit_key: Ed25519PrivateKey | None = None,
        checkpoint_interval_s: int = 300,
        checkpoint_overdue_s: int = 900,
        retention_days: int = 30,
        live_view_retention_s: int = 3600,
        clock: Callable[[], datetime] = utcnow,
        home_assistant: HomeAssistantSettings | None = None,
        webhooks: WebhookSettings | None = None,
    ) -> None:
        self.db = db
        self.files = files
        self.runtime = runtime
        self.bus = NoticeBus()
        self.link = MqttLink(link_settings(runtime))
        # Several processes sharing ingest: each one's notices reach every process's board.
        self.relay = NoticeRelay(self.link, self.bus) if relay_enabled(runtime) else None
        self.commands = CommandService(
            db, self.link, self.bus, signer, runtime, audit_key=audit_key, clock=clock
        )
        self.ingest = Ingest(
            db,
            files,
            self.link,
            self.bus,
            shared_group=runtime.shared_group,
            batch=runtime.ingest_batch,
            low_disk_bytes=runtime.low_disk_bytes,
            on_ack=self.commands.on_ack,
        )
        self.health = HealthMonitor(
            db, self.bus, runtime, checkpoint_overdue_s=checkpoint_overdue_s, clock=clock
        )
        # Periodic jobs: snapshot retention, and audit checkpoints sent to every door.
        self.retention = RetentionJob(
            db, files, default_days=retention_days, live_view_s=live_view_retention_s, clock=clock
        )
        self.checkpoints = CheckpointJob(
            db, self.link, audit_key or signer, interval_s=checkpoint_interval_s, clock=clock
        )
        self.jobs = PeriodicJobs()
        # Webhooks to partner agencies (issue 10): delivers from the durable outbox.
        self.webhooks = WebhookWorker(db, webhooks or WebhookSettings(), bus=self.bus, clock=clock)
        # Unanswered-ring escalation (issue 9): steps are rows, the job takes the due ones.
        self.escalation = EscalationEngine(db, self.bus, clock=clock)
        self.jobs.add("escalation", 1.0, self.escalation.tick)
        self.jobs.add("retention", runtime.retention_interval_s, self.retention.run)
        # Commands left open by a hub that died before the answer came (its timer died too).
        self.jobs.add("stale_commands", 30.0, self.commands.sweep_stale, first_after_s=1.0)
        # Visit verification (issue 9): records from door events, missed visits told once.
        self.visit_records = VisitRecordsJob(db, self.bus, clock=clock)
        self.jobs.add("visit_records", 60.0, self.visit_records.run, first_after_s=5.0)
        # Checked often (one small query), so a checkpoint is never much later than due.
        self.jobs.add("checkpoints", min(30.0, checkpoint_interval_s / 5), self.checkpoints.run)
        # Home Assistant discovery (issue 10): runs only once a door is opted in.
        self.home_assistant = HomeAssistantBridge(
            db,
            self.link,
            self.bus,
            self.commands,
            files,
            home_assistant or HomeAssistantSettings(),
            shared_group=runtime.shared_group,
            clock=clock,
        )

    @classmethod
    def from_settings(cls, settings: HubSettings, runtime: HubRuntimeSettings) -> Hub:
        db = Database.from_settings(settings)
        db.upgrade()
        assert settings.snapshot_dir is not None
        assert settings.signing_key is not None
        signer = load_private_key(settings.signing_key)
        audit_key = load_private_key(settings.audit_key) if settings.audit_key else None
        return cls(
            db,
            SnapshotFiles(settings.snapshot_dir),
            signer,
            runtime,
            audit_key=audit_key,
            checkpoint_interval_s=settings.audit_checkpoint_interval_s,
            checkpoint_overdue_s=settings.audit_checkpoint_overdue_s,
            retention_days=settings.retention_days,
            live_view_retention_s=settings.live_view_retention_s,
        )

    def start(self, timeout: float = 10.0) -> None:
        self.ingest.start()  # subscriptions first, so the first CONNACK resubscribes them
        if self.relay is not None:
            self.relay.start()
        self.link.start(timeout)
        self.link.wait_subscribed(timeout)
        self.health.start()
        self.escalation.start()
        self.jobs.start()  # after the link is up: the checkpoint job publishes
        if self.webhooks.settings.enabled:
            self.webhooks.start()
        self.home_assistant.start_if_wanted(timeout)
        log.info("hub connected to %s:%d", self.runtime.mqtt_host, self.runtime.mqtt_port)

    def stop(self) -> None:
        self.webhooks.stop()
        self.home_assistant.stop()  # says "offline" while the link is still up
        self.jobs.stop()
        self.escalation.stop()
        self.health.stop()
        self.commands.stop()
        if self.relay is not None:
            self.relay.stop()
        self.link.stop()
        self.ingest.stop()
