"""Reading an HTTP ``Retry-After`` header, for every channel that sends over HTTP
(Web Push, webhooks): one parser, so both honour the same two spellings.

    >>> retry_after("120")
    120.0
    >>> retry_after("soon") is None
    True
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP date); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
