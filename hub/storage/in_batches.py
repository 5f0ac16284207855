"""Reading rows for many ids with ``IN (...)`` lists of bounded length.

One read per batch keeps every database inside its limit on bound parameters, and
a route over an officer's hundreds of homes at a handful of statements.

    homes = read_in_batches(session, ids, lambda batch: select(Home).where(Home.id.in_(batch)))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

IN_BATCH = 500  # ids per IN list: well inside every database's parameter limit


def read_in_batches(
    session: Session, ids: Iterable[str], statement: Callable[[list[str]], Select[Any]]
) -> list[Any]:
    """The rows ``statement(batch)`` reads, for the distinct ``ids`` in sorted batches."""
    names = sorted(set(ids))
    found: list[Any] = []
    for i in range(0, len(names), IN_BATCH):
        found += session.scalars(statement(names[i : i + IN_BATCH]))
    return found
