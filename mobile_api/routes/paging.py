"""Keyset paging for list routes: ``?limit=N&after=<last id>``, next page in a Link header.

A route reads ``limit + 1`` rows; when the extra row exists, the response carries
``Link: </api/...?limit=N&after=<last id on this page>>; rel="next"`` (RFC 8288);
the last page has no such header.

    found = devices_page(s, admin_id=pid, after=after, limit=limit + 1)
    link_next(response, "/api/admin/devices", found, limit, {"q": q}, lambda d: d.id)
    return [... for d in found[:limit]]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import urlencode

from fastapi import Response

T = TypeVar("T")

PAGE, MAX_PAGE = 100, 500
# PostgreSQL refuses NUL in text, and no id or name holds control characters.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
AFTER_HELP = "the last id of the previous page (the Link header gives the next page's address)"
PREFIX_HELP = "keep only ids or names starting with this (names ignoring case)"


def link_next(
    response: Response,
    path: str,
    found: Sequence[T],
    limit: int,
    extra: Mapping[str, str | None],
    id_of: Callable[[T], str],
    *,
    cursor: str = "after",
) -> None:
    """Set the next-page Link header when ``found`` (read with ``limit + 1``) overflows;
    ``cursor`` names the parameter the last id goes in (``before`` for newest-first lists)."""
    if len(found) <= limit:
        return
    query = {"limit": str(limit), cursor: id_of(found[limit - 1])}
    query |= {k: v for k, v in extra.items() if v}
    response.headers["Link"] = f'<{path}?{urlencode(query)}>; rel="next"'
