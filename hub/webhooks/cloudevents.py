"""The CloudEvents 1.0 structured-mode JSON envelope of an outbox row.

The body is the same bytes at every attempt (sorted keys, no spaces), so a receiver
may de-duplicate on ``id`` (unique per ``source``) or even on the body's hash.

    >>> envelope_bytes(row, source="urn:doorstep:hub")[:20]   # doctest: +SKIP
    b'{"data":{"device":"d'
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

CONTENT_TYPE = "application/cloudevents+json"


def envelope(row: Any, *, source: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": row.ce_id,
        "source": source,
        "type": row.type,
        "subject": row.subject,
        "time": row.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": row.data,
    }


def envelope_bytes(row: Any, *, source: str) -> bytes:
    text = json.dumps(envelope(row, source=source), sort_keys=True, separators=(",", ":"))
    return text.encode()
