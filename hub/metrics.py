"""Prometheus metrics of the hub, read from the database at each scrape.

The figures that describe the fleet (doors by health, open alerts, command outcomes,
events stored, outboxes) come from the shared database, so every hub process answers
the same; only ``doorstep_ingest_queue_*`` is this process's own (scrape each process).
Access is by a bearer token made once per deployment (``load_or_create_token``).

    registry = hub_registry(hub.db, ingest=hub.ingest)
    generate_latest(registry)          # the text exposition format
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from protocol.base import utcnow

from .storage import reports as q
from .storage.database import Database
from .storage.models_commands import AlertKind, CommandStatus
from .storage.models_registry import DeviceHealth

log = logging.getLogger(__name__)

METRICS_TOKEN_FILE = "metrics.token"
RATE_WINDOW = timedelta(seconds=60)
_FINISHED = (
    CommandStatus.ACKNOWLEDGED,
    CommandStatus.REJECTED,
    CommandStatus.FAILED,
    CommandStatus.UNKNOWN,
)
_PENDING = (CommandStatus.REQUESTED, CommandStatus.SENT)
_FAILED_DELIVERY = ("failed", "gone")


def load_or_create_token(path: Path) -> str:
    """The deployment's metrics token: read it, or make it (owner-only file) on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    # O_EXCL: two processes starting at once never overwrite each other's token.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token


class HubCollector(Collector):
    """Reads a few aggregates in one read transaction per scrape."""

    def __init__(
        self,
        db: Database,
        *,
        ingest: Any = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.ingest = ingest
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        up = GaugeMetricFamily("doorstep_database_up", "1 if the database answered this scrape")
        try:
            families = list(self._from_database(now))
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            families = []
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families
        yield from self._this_process(now)

    def _from_database(self, now: datetime) -> Iterator[Metric]:
        with self.db.read_session() as s:
            health = q.device_health_counts(s)
            alerts = q.open_alert_counts(s)
            commands = q.command_status_counts(s)
            stored = q.stored_event_count(s)
            recent = q.events_received_since(s, now - RATE_WINDOW)
            newest = q.newest_event_received(s)
            problems = q.ingest_problem_counts(s)
            outbox = q.outbox_figures(s)
            audit = q.audit_head_seq(s)
            deliveries = q.delivery_status_counts(s)
        g = GaugeMetricFamily("doorstep_devices", "Registered doors by health", labels=["health"])
        for h in DeviceHealth:
            g.add_metric([h.value], health.get(h.value, 0))
        yield g
        g = GaugeMetricFamily(
            "doorstep_alerts_open", "Open alerts by kind and status", labels=["kind", "status"]
        )
        for kind in AlertKind:
            for st in ("raised", "acknowledged"):
                g.add_metric([kind.value, st], alerts.get((kind.value, st), 0))
        yield g
        c = CounterMetricFamily(
            "doorstep_commands",
            "Finished commands by action and outcome (an unknown one may still be answered)",
            labels=["action", "outcome"],
        )
        g = GaugeMetricFamily(
            "doorstep_commands_pending", "Commands waiting for an answer", labels=["action"]
        )
        actions = sorted({a for a, _ in commands} | {"unlock"})
        for action in actions:
            for st in _FINISHED:
                c.add_metric([action, st.value], commands.get((action, st.value), 0))
            g.add_metric([action], sum(commands.get((action, st.value), 0) for st in _PENDING))
        yield c
        yield g
        yield CounterMetricFamily(
            "doorstep_events_stored", "Device events held in the database", value=stored
        )
        yield GaugeMetricFamily(
            "doorstep_events_per_second",
            "Events received in the last 60 seconds, per second",
            value=recent / RATE_WINDOW.total_seconds(),
        )
        age = (now - newest).total_seconds() if newest else float("nan")
        yield GaugeMetricFamily(
            "doorstep_newest_event_age_seconds",
            "Seconds since the newest stored event was received (NaN: none yet)",
            value=max(age, 0.0) if newest else age,
        )
        c = CounterMetricFamily(
            "doorstep_ingest_problems",
            "Messages ingest refused or could not parse",
            labels=["category", "reason"],
        )
        for (category, reason), n in sorted(problems.items()):
            c.add_metric([category, reason], n)
        yield c
        yield GaugeMetricFamily(
            "doorstep_outbox_messages",
            "Messages waiting in the doors' outboxes (last heartbeats)",
            value=outbox["depth"],
        )
        yield GaugeMetricFamily(
            "doorstep_outbox_messages_max",
            "The fullest door outbox (last heartbeats)",
            value=outbox["max"],
        )
        yield GaugeMetricFamily(
            "doorstep_outbox_bytes", "Bytes held in the doors' outboxes", value=outbox["bytes"]
        )
        yield CounterMetricFamily(
            "doorstep_outbox_dropped",
            "Messages the doors' outboxes had to drop (sum of their counts)",
            value=outbox["dropped"],
        )
        yield CounterMetricFamily("doorstep_audit_entries", "Entries in the audit log", value=audit)
        g = GaugeMetricFamily(
            "doorstep_notify_deliveries",
            "Notification deliveries by channel and status",
            labels=["channel", "status"],
        )
        c = CounterMetricFamily(
            "doorstep_notify_failures", "Notification deliveries that failed", labels=["channel"]
        )
        failed: dict[str, int] = {}
        for (channel, st), n in sorted(deliveries.items()):
            g.add_metric([channel, st], n)
            if st in _FAILED_DELIVERY:
                failed[channel] = failed.get(channel, 0) + n
        for channel in sorted({ch for ch, _ in deliveries}):
            c.add_metric([channel], failed.get(channel, 0))
        yield g
        yield c

    def _this_process(self, now: datetime) -> Iterator[Metric]:
        if self.ingest is None:
            return
        depth, oldest = self.ingest.backlog()
        yield GaugeMetricFamily(
            "doorstep_ingest_queue_depth",
            "Messages this process received from the broker and has not stored yet",
            value=depth,
        )
        lag = (now - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "doorstep_ingest_lag_seconds",
            "How long the oldest message waiting in this process's ingest queue has waited",
            value=max(lag, 0.0),
        )


def hub_registry(
    db: Database, *, ingest: Any = None, clock: Callable[[], datetime] = utcnow
) -> CollectorRegistry:
    """A registry of its own (not the global one): one per app, nothing at import."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(db, ingest=ingest, clock=clock))
    return registry
