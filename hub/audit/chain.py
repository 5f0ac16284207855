"""The hash chain: how one audit entry is encoded and hashed.

``hash = SHA-256(canonical JSON of every field except hash)``, where canonical
means sorted keys, no spaces, UTF-8, times in UTC with microseconds. Each entry's
``prev_hash`` is the previous entry's ``hash`` (all zeros before the first), so
changing, removing or moving any entry breaks every link after it.

    >>> h = entry_hash(seq=1, at=datetime(2026, 1, 1, tzinfo=UTC), actor="service:hub",
    ...                action="login", subjects=(), details={}, prev_hash=GENESIS_HASH)
    >>> len(h)
    64
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidAuditEntry
from ..storage.models_audit import GENESIS_HASH

__all__ = ["GENESIS_HASH", "canonical", "canonical_details", "entry_hash", "format_time"]


def format_time(at: datetime) -> str:
    """The one text form of a time inside the chain: UTC, microseconds, ``+00:00``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidAuditEntry(f"audit time {at.isoformat()} has no time zone: pass an aware time")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _dumps(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` as it will read back from the database (plain JSON), or an error."""
    try:
        result = json.loads(_dumps(dict(details or {})))
    except (TypeError, ValueError) as exc:
        raise InvalidAuditEntry(
            f"audit details must be plain JSON (str, int, float, bool, None, lists, "
            f"objects with string keys): {exc}"
        ) from None
    return result  # type: ignore[no-any-return]


def canonical(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subjects: Sequence[str],
    details: Mapping[str, Any],
    prev_hash: str,
) -> bytes:
    """The exact bytes that are hashed."""
    return _dumps(
        {
            "seq": seq,
            "at": format_time(at),
            "actor": actor,
            "action": action,
            "subjects": list(subjects),
            "details": details,
            "prev_hash": prev_hash,
        }
    ).encode("utf-8")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subjects: Sequence[str],
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    data = canonical(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subjects=subjects,
        details=details,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(data).hexdigest()
