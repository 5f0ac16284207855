"""Webhooks to partner agencies: CloudEvents 1.0 over HTTPS, signed, retried, never lost.

Kept import-light on purpose: ``hub.storage.alerts`` imports ``hub.webhooks.outbox``
so an alert and its outbox row commit together. See docs/webhooks.md.

    worker = WebhookWorker(db, WebhookSettings())   # Hub does this
    worker.start(); ...; worker.stop()
"""
