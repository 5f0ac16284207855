"""Ingest's groups: a batch's events (or heartbeats) go in one savepoint; when one of
them fails, the others are stored one by one and only the failing one is counted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub import ingest_guard
from hub.handlers import HandlerContext
from hub.ingest_batches import Received
from hub.storage import Database, SnapshotFiles
from protocol.codec import WireProperties
from tests.fixtures.database import T0, ring


def _received(device: str, seq: int) -> Received:
    return Received(
        f"doorstep/v1/{device}/event/ring", b"", WireProperties(), T0 + timedelta(seconds=seq)
    )


@pytest.mark.parametrize("kind", ["events", "heartbeats"])
def test_one_failing_member_leaves_the_others_stored(
    database: Database, device_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    stored: list[Any] = []
    problems: list[tuple[str, Received]] = []

    def handler(_ctx: HandlerContext, members: list[Any]) -> None:
        stored.append(members)
        if any(getattr(m[0] if isinstance(m, tuple) else m, "seq", 0) == 2 for m in members):
            raise ValueError("this one is broken")

    items = [(_received(device_id, n), ring(device_id, n)) for n in (1, 2, 3)]
    with database.session() as s:
        ctx = HandlerContext(s, SnapshotFiles(tmp_path), received_at=T0)
        problem = lambda _s, category, _reason, item, _detail: problems.append((category, item))  # noqa: E731
        if kind == "events":
            monkeypatch.setattr(ingest_guard, "on_events", handler)
            ingest_guard.store_events(s, ctx, items, problem=problem)
        else:
            monkeypatch.setattr(ingest_guard, "on_heartbeats", handler)
            ingest_guard.store_heartbeats(s, ctx, items, problem=problem)  # type: ignore[arg-type]
    # The whole group first, then each member on its own.
    assert [len(g) for g in stored] == [3, 1, 1, 1]
    assert problems == [("failed", items[1][0])]
    assert ctx.received_at == items[2][0].at
