"""Ingest's savepoints: a message (or a group of them) that fails must not undo its batch.

A group (the batch's events, its heartbeats) is stored in one savepoint; only if that
fails are its members stored one by one, so the rest still land. A member that fails
is counted through ``problem`` and forgotten, with whatever it would have announced.

    guarded(session, ctx, item, lambda: handler(ctx, message), problem=ingest._problem)
    store_events(session, ctx, events, problem=ingest._problem)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from protocol.device import Telemetry
from protocol.errors import ProtocolError
from protocol.events import EventBase

from .errors import DatabaseUnavailable
from .handlers import HandlerContext, on_events, on_heartbeats
from .ingest_batches import Received

log = logging.getLogger(__name__)

T = TypeVar("T")

# (session, category, reason, item, detail) -> None: counts and logs a message's problem.
Problem = Callable[[Session, str, str, Received, str], None]


def store_events(
    session: Session,
    ctx: HandlerContext,
    events: list[tuple[Received, EventBase]],
    *,
    problem: Problem,
) -> None:
    _together_or_one_by_one(
        session, ctx, events, lambda group: on_events(ctx, [e for _, e in group]), problem
    )


def store_heartbeats(
    session: Session,
    ctx: HandlerContext,
    heartbeats: list[tuple[Received, Telemetry]],
    *,
    problem: Problem,
) -> None:
    """All the batch's heartbeats in one savepoint; one by one only if that fails."""
    _together_or_one_by_one(
        session,
        ctx,
        heartbeats,
        lambda group: on_heartbeats(ctx, [(t, item.at) for item, t in group]),
        problem,
    )


def _together_or_one_by_one(
    session: Session,
    ctx: HandlerContext,
    group: list[tuple[Received, T]],
    store: Callable[[list[tuple[Received, T]]], None],
    problem: Problem,
) -> None:
    ctx.received_at = group[-1][0].at
    if guarded(
        session, ctx, group[-1][0], lambda: store(group), problem=problem, log_failure=False
    ):
        return
    # One of them could not be stored: store them one by one so the rest still land.
    for item, value in group:
        ctx.received_at = item.at
        guarded(session, ctx, item, lambda one=[(item, value)]: store(one), problem=problem)


def guarded(
    session: Session,
    ctx: HandlerContext,
    item: Received,
    work: Callable[[], None],
    *,
    problem: Problem,
    log_failure: bool = True,
) -> bool:
    """Run ``work`` in a savepoint; a failure there must not undo the batch."""
    notices, syncs = len(ctx.notices), dict(ctx.sync_devices)
    callbacks = len(ctx.after_commit)
    try:
        with session.begin_nested():
            work()
        return True
    except DatabaseUnavailable:
        raise  # the database itself is in trouble: retry the whole batch
    except Exception as exc:
        # Rolled back to the savepoint: forget what it would have announced.
        del ctx.notices[notices:]
        del ctx.after_commit[callbacks:]
        ctx.sync_devices = syncs
        if not log_failure:
            return False  # the caller tries the group's members one by one
        if isinstance(exc, ProtocolError):  # e.g. an ack signed by another key
            problem(session, "refused", type(exc).__name__, item, str(exc)[:300])
        else:
            log.exception("handling %s failed", item.topic)
            problem(session, "failed", type(exc).__name__, item, str(exc)[:300])
        return False
