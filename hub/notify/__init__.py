"""Notifications that reach people when the page is closed (Web Push, SMS and email through
GOV.UK Notify; more channels plug in behind ``Channel``).

Rings, alerts and ``notify`` notices (messages.NotifyRequest) on the hub's bus are routed
(route.py), filtered by each person's preferences (preferences.py) and a rate limit
(ratelimit.py), claimed once per key and person (store.py) and delivered with retries
(worker.py); receipts.states(session, key) tells how far each got.

    keys = VapidKeys.load_or_create(data_dir / "keys" / VAPID_KEY_FILE)
    worker = NotifyWorker(db, bus, [WebPushChannel(db, keys, subject="mailto:ops@example.org")])
    worker.start()
"""

from __future__ import annotations

from .channel import Channel, Message, NotifyConfigError, NotifyError, Outcome, Receipt
from .vapid import VAPID_KEY_FILE, VapidKeys
from .webpush import PushPayload, WebPushChannel
from .worker import NotifyWorker

__all__ = [
    "VAPID_KEY_FILE",
    "Channel",
    "Message",
    "NotifyConfigError",
    "NotifyError",
    "NotifyWorker",
    "Outcome",
    "PushPayload",
    "Receipt",
    "VapidKeys",
    "WebPushChannel",
]
