"""The per-device sequence bookkeeping behind ``store_event``: the watermark and gaps.

The watermark (``devices.stored_through``) is the highest seq such that every seq
up to it is stored (``events``) or declared lost (``abandoned_seqs``). It only ever
moves forward, with a conditional UPDATE, so concurrent hub processes cannot move
it back. A gap is recorded when a seq arrives with missing seqs before it, and
settled (``resolved``, or ``abandoned`` if some were lost) once they are covered.

Statements are built once per dialect and reused: building a SQLAlchemy statement
costs more than running it on SQLite, and this is the hub's hottest path.

    through, new_gaps = settle_device(session, "door-1a2b3c", inserted=[41, 42], at=now)
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, union, update
from sqlalchemy.orm import Session

from ._dialect import dialect_name, insert_for_dialect
from .models_events import AbandonedSeq, Event, GapStatus, SequenceGap
from .models_registry import Device

WALK_BATCH = 1000

_events = Event.__table__
_lost = AbandonedSeq.__table__
_gaps = SequenceGap.__table__
_devices = Device.__table__


@dataclass(frozen=True)
class _Statements:
    watermark: Any
    covered_after: Any
    move_watermark: Any
    covered_window: Any
    gap_known: Any
    insert_gap: Any
    gaps_to_settle: Any
    covered_in_range: Any
    lost_in_range: Any
    settle_gap: Any


def _covered(lower: Any, upper: Any | None = None) -> Any:
    """Seqs stored or abandoned for :device with ``lower < seq (< upper)``, as a subquery."""
    stored = select(_events.c.seq.label("seq")).where(
        _events.c.device_id == bindparam("device"), _events.c.seq > lower
    )
    lost = select(_lost.c.seq.label("seq")).where(
        _lost.c.device_id == bindparam("device"), _lost.c.seq > lower
    )
    if upper is not None:
        stored = stored.where(_events.c.seq < upper)
        lost = lost.where(_lost.c.seq < upper)
    return union(stored, lost).subquery()


@functools.cache
def _statements(dialect: str) -> _Statements:
    after = _covered(bindparam("after"))
    before = _covered(bindparam("after"), bindparam("before"))
    in_range = _covered(bindparam("below"), bindparam("above"))
    open_gap = and_(_gaps.c.device_id == bindparam("device"), _gaps.c.status == GapStatus.OPEN)
    return _Statements(
        watermark=select(_devices.c.stored_through).where(_devices.c.id == bindparam("device")),
        covered_after=select(after.c.seq).order_by(after.c.seq).limit(WALK_BATCH),
        move_watermark=update(_devices)
        .where(_devices.c.id == bindparam("device"))
        .where(_devices.c.stored_through < bindparam("through"))
        .values(stored_through=bindparam("through")),
        covered_window=select(before.c.seq).order_by(before.c.seq),
        gap_known=select(_gaps.c.id)
        .where(_gaps.c.device_id == bindparam("device"))
        .where(_gaps.c.from_seq <= bindparam("lo"), _gaps.c.to_seq >= bindparam("hi"))
        .limit(1),
        insert_gap=insert_for_dialect(dialect, _gaps)
        .on_conflict_do_nothing(index_elements=["device_id", "from_seq", "to_seq"])
        .returning(_gaps.c.id),
        gaps_to_settle=select(_gaps.c.id, _gaps.c.from_seq, _gaps.c.to_seq).where(
            open_gap,
            or_(
                _gaps.c.to_seq <= bindparam("through"),
                and_(
                    _gaps.c.from_seq <= bindparam("seq_hi"), _gaps.c.to_seq >= bindparam("seq_lo")
                ),
            ),
        ),
        covered_in_range=select(func.count()).select_from(in_range),
        lost_in_range=select(func.count()).where(
            _lost.c.device_id == bindparam("device"),
            _lost.c.seq.between(bindparam("lo"), bindparam("hi")),
        ),
        settle_gap=update(_gaps)
        .where(_gaps.c.id == bindparam("gap"))
        .values(status=bindparam("new_status"), settled_at=bindparam("at")),
    )


def statements(session: Session) -> _Statements:
    return _statements(dialect_name(session))


def watermark(session: Session, device: str) -> int:
    value = session.execute(statements(session).watermark, {"device": device}).scalar()
    return int(value or 0)


def settle_device(
    session: Session, device: str, inserted: Sequence[int], at: datetime
) -> tuple[int, dict[int, tuple[int, int]]]:
    """Bookkeeping after this transaction inserted ``inserted`` seqs of ``device``.

    Records the gaps they reveal, moves the watermark and settles gaps. Returns the
    new watermark and, per inserted seq that revealed one, the new gap before it.
    """
    st = statements(session)
    start = watermark(session, device)
    found: dict[int, tuple[int, int]] = {}
    through = start
    seqs = sorted(s for s in set(inserted) if s > start)
    if seqs:
        top = seqs[-1]
        if seqs == list(range(start + 1, top + 1)):
            known = seqs  # exactly the window: nothing else can be in it
        else:
            window = {"device": device, "after": start, "before": top + 1}
            known = list(session.scalars(st.covered_window, window))
        for s in seqs:
            gap = _gap_before(session, device, s, start, known, at)
            if gap is not None:
                found[s] = gap
        for s in known:
            if s != through + 1:
                break
            through = s
    if through == (seqs[-1] if seqs else start):
        through = _walk(session, device, through)
    if through > start:
        # Only ever forwards: another process may have moved it further meanwhile.
        session.execute(st.move_watermark, {"device": device, "through": through})
    lo, hi = (min(inserted), max(inserted)) if inserted else (0, 0)
    _settle_gaps(session, device, through, lo, hi, at)
    return through, found


def advance(session: Session, device: str, at: datetime) -> int:
    """Catch the watermark up with whatever is stored (e.g. after concurrent writers)."""
    return settle_device(session, device, (), at)[0]


def _walk(session: Session, device: str, through: int) -> int:
    st = statements(session)
    while True:
        seqs = session.scalars(st.covered_after, {"device": device, "after": through}).all()
        for s in seqs:
            if s != through + 1:
                return through
            through = s
        if len(seqs) < WALK_BATCH:
            return through


def _gap_before(
    session: Session, device: str, seq: int, start: int, known: list[int], at: datetime
) -> tuple[int, int] | None:
    """The run of missing seqs just below ``seq`` (above the watermark), if newly seen."""
    index = bisect.bisect_left(known, seq)
    previous = known[index - 1] if index > 0 else start
    lo, hi = previous + 1, seq - 1
    if lo > hi:
        return None
    if session.execute(
        statements(session).gap_known, {"device": device, "lo": lo, "hi": hi}
    ).first():
        return None
    return (lo, hi) if record_gap(session, device, lo, hi, at) else None


def record_gap(session: Session, device: str, from_seq: int, to_seq: int, at: datetime) -> bool:
    """Record that ``from_seq..to_seq`` is missing; False if that gap is known already."""
    params = {
        "device_id": device,
        "from_seq": from_seq,
        "to_seq": to_seq,
        "detected_at": at,
        "status": GapStatus.OPEN,
    }
    return session.execute(statements(session).insert_gap, params).first() is not None


def _settle_gaps(
    session: Session, device: str, through: int, seq_lo: int, seq_hi: int, at: datetime
) -> None:
    """Settle open gaps below the watermark, and those the new seqs may have filled."""
    st = statements(session)
    params = {"device": device, "through": through, "seq_lo": seq_lo, "seq_hi": seq_hi}
    for gap_id, lo, hi in session.execute(st.gaps_to_settle, params).all():
        span = {"device": device, "lo": lo, "hi": hi, "below": lo - 1, "above": hi + 1}
        if hi > through and session.execute(st.covered_in_range, span).scalar() != hi - lo + 1:
            continue  # a later gap that still has holes
        lost = session.execute(st.lost_in_range, span).scalar()
        status = GapStatus.ABANDONED if lost else GapStatus.RESOLVED
        session.execute(st.settle_gap, {"gap": gap_id, "new_status": status, "at": at})
