"""Start the notification layer next to a running hub (used by ``doorstep serve``).

notifications = Notifications.start(hub.db, hub.bus, settings.data_dir, NotifySettings())
...                     # notifications.keys.application_server_key for the web app
notifications.stop()
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..bus import NoticeBus
from ..storage.database import Database
from .channel import Channel
from .govuk import GovNotifyChannel
from .ratelimit import RateLimit
from .settings import NotifySettings
from .vapid import VAPID_KEY_FILE, VapidKeys
from .webpush import WebPushChannel
from .worker import NotifyWorker

log = logging.getLogger(__name__)


@dataclass
class Notifications:
    keys: VapidKeys | None  # None: Web Push is off
    worker: NotifyWorker | None

    @classmethod
    def start(
        cls, db: Database, bus: NoticeBus, data_dir: Path, settings: NotifySettings
    ) -> Notifications:
        channels: list[Channel] = []
        keys = None
        if settings.web_push_enabled:
            keys = VapidKeys.load_or_create(
                settings.vapid_key or data_dir / "keys" / VAPID_KEY_FILE
            )
            channels.append(
                WebPushChannel(
                    db,
                    keys,
                    subject=settings.vapid_subject,
                    ttl_s=settings.push_ttl_s,
                    timeout_s=settings.send_timeout_s,
                )
            )
        else:
            log.warning("Web Push is off: set DOORSTEP_NOTIFY_VAPID_SUBJECT=mailto:<operator>")
        if settings.govuk_enabled:
            key = settings.govuk_api_key.get_secret_value()
            for medium, templates in (
                ("sms", settings.govuk_sms_templates),
                ("email", settings.govuk_email_templates),
            ):
                if templates:
                    channels.append(
                        GovNotifyChannel(
                            db,
                            key,
                            medium=medium,  # type: ignore[arg-type]
                            templates=templates,
                            base_url=settings.govuk_base_url,
                            timeout_s=settings.send_timeout_s,
                            public_url=settings.public_url,
                        )
                    )
        if not channels:
            return cls(keys, None)
        worker = NotifyWorker(
            db,
            bus,
            channels,
            retry_delays_s=settings.retry_delays_s,
            senders=settings.senders,
            rate_limit=RateLimit(settings.rate_limit_count, settings.rate_limit_window_s),
            report_every_s=settings.report_every_s,
            keep_days=settings.keep_days,
        )
        worker.start()
        return cls(keys, worker)

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
