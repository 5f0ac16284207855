"""Turning pydantic's validation errors into one readable line, and the version check.

>>> check_version({"v": 1}, "doorstep/v1/door-1a2b3c/status")
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .base import SCHEMA_VERSION
from .errors import MessageInvalid, UnsupportedVersion


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """``field.path: message; ...`` for the first ``limit`` problems."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(message)"
        parts.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def check_version(
    data: dict[str, Any], where: str, supported: tuple[int, ...] = (SCHEMA_VERSION,)
) -> None:
    """Refuse a payload whose schema version ``v`` is missing or not one of ``supported``.

    Checked before the schema so a newer sender hears "unsupported version" rather
    than a list of fields it does not know.
    """
    speaks = " or ".join(f"v={n}" for n in supported)
    if "v" not in data:
        raise MessageInvalid(
            f"{where}: field 'v' is missing; every payload carries its schema version ({speaks})"
        )
    v = data["v"]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise MessageInvalid(f"{where}: v must be an integer ({speaks}), got {v!r}")
    if v not in supported:
        raise UnsupportedVersion(
            f"{where}: schema version v={v!r} is not supported; this side speaks {speaks} "
            f"(send v={max(supported)} at most, or upgrade the receiver)"
        )
