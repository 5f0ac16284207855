"""Checking the audit log: recompute the chain, compare it with signed checkpoints.

``verify`` reads every entry in order (in batches, constant memory), recomputes
each hash and link, and checks every checkpoint's signature and hash. It reports
the FIRST bad entry and why:

- ``deleted``: a sequence number is missing;
- ``edited``: an entry no longer matches its hash, or it was re-hashed so that the
  next entry's link to it broke;
- ``reordered``: an entry sits at the wrong place (its hash matches another seq);
- ``truncated``: the log ends before a signed checkpoint (or its own head row);
- ``forged checkpoint signature``: a checkpoint that the given key did not sign;
- ``checkpoint hash mismatch``: a genuine checkpoint disagrees with the entry it
  covers -- the chain up to it was rewritten consistently;
- ``head mismatch``: the head row disagrees with the newest entry.

In the same pass it checks the reference index ``audit_refs`` (``verify_index``): not
part of the chain, so its findings are a section of their own (``report.index``), but
``report.ok`` needs both.

    report = verify(db, load_checkpoints(path), public_key)
    if not report.ok:
        print(report.summary())   # first bad entry: #5012 (edited): ...
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from protocol.errors import ProtocolError
from protocol.signing import SignedEnvelope

from ..errors import CheckpointError
from ..storage.audit_rows import AuditRow, iter_audit_rows, read_audit_head
from ..storage.database import Database
from .chain import GENESIS_HASH, entry_hash
from .checkpoints import CheckpointStatement, open_checkpoint
from .verify_index import IndexReport
from .verify_index import check_index as _check_index

# How far away to look for the place a moved entry was written at.
REORDER_WINDOW = 4096


class Reason(StrEnum):
    DELETED = "deleted"
    EDITED = "edited"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    FORGED_CHECKPOINT = "forged checkpoint signature"
    CHECKPOINT_MISMATCH = "checkpoint hash mismatch"
    HEAD_MISMATCH = "head mismatch"


# At one seq, a broken chain is a more precise finding than a checkpoint disagreeing.
_RANK = {r: i for i, r in enumerate(Reason)}


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    reason: Reason
    detail: str

    def __str__(self) -> str:
        return f"#{self.seq} ({self.reason.value}): {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    entries: int
    head_seq: int
    head_hash: str
    checkpoints_given: int
    checkpoints_valid: int
    newest_checkpoint_seq: int | None
    problems: tuple[Problem, ...]
    seconds: float = field(compare=False)
    index: IndexReport = field(default_factory=IndexReport)

    @property
    def ok(self) -> bool:
        """The chain and the reference index are both right."""
        return self.chain_ok and self.index.ok

    @property
    def chain_ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        if self.index.ok:
            return self._chain_summary()
        return f"{self._chain_summary()}\n{self.index.summary()}"

    def _chain_summary(self) -> str:
        if self.first is not None:
            return f"first bad entry: #{self.first.seq} ({self.first.reason.value}): " + (
                self.first.detail
            )
        anchored = (
            f"anchored by {self.checkpoints_valid} signed checkpoint(s), newest at "
            f"#{self.newest_checkpoint_seq}"
            if self.checkpoints_valid
            else "NOT anchored: no signed checkpoint was given"
        )
        return (
            f"audit log intact: {self.entries} entries, head #{self.head_seq} "
            f"{self.head_hash[:16]}..., {anchored} ({self.seconds:.2f} s)"
        )


def verify(
    db: Database,
    checkpoints: Iterable[SignedEnvelope],
    public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey],
    *,
    check_index: bool = True,
) -> VerifyReport:
    """Verify the whole log of ``db`` (see the module docstring)."""
    with db.read_session() as session:
        return verify_session(session, checkpoints, public_key, check_index=check_index)


def verify_session(
    session: Session,
    checkpoints: Iterable[SignedEnvelope],
    public_key: Ed25519PublicKey | Sequence[Ed25519PublicKey],
    *,
    check_index: bool = True,
) -> VerifyReport:
    """``verify`` inside an existing transaction (sees its uncommitted changes);
    ``check_index=False`` checks the chain only (``report.index`` stays empty)."""
    started = time.perf_counter()
    keys = [public_key] if isinstance(public_key, Ed25519PublicKey) else list(public_key)
    envelopes = list(checkpoints)
    statements, problems = _open_all(envelopes, keys)
    wanted = {s.seq for s in statements}
    walk = _Walk(wanted)
    walked = walk.through(iter_audit_rows(session))
    index = _check_index(session, walked) if check_index else _drain(walked)
    problems += walk.problems()
    problems += _compare_checkpoints(statements, walk)
    problems += _compare_head(session, walk)
    problems.sort(key=lambda p: (p.seq, _RANK[p.reason]))
    return VerifyReport(
        entries=walk.count,
        head_seq=walk.last_seq,
        head_hash=walk.last_hash,
        checkpoints_given=len(envelopes),
        checkpoints_valid=len(statements),
        newest_checkpoint_seq=max(wanted) if wanted else None,
        problems=tuple(problems),
        seconds=time.perf_counter() - started,
        index=index,
    )


def _drain(rows: Iterator[AuditRow]) -> IndexReport:
    for _ in rows:
        pass
    return IndexReport()


def _open_all(
    envelopes: Sequence[SignedEnvelope], keys: Sequence[Ed25519PublicKey]
) -> tuple[list[CheckpointStatement], list[Problem]]:
    statements: list[CheckpointStatement] = []
    problems: list[Problem] = []
    for envelope in envelopes:
        try:
            statements.append(open_checkpoint(envelope, keys))
        except (ProtocolError, CheckpointError) as exc:
            problems.append(Problem(_claimed_seq(envelope), Reason.FORGED_CHECKPOINT, str(exc)))
    return statements, problems


def _claimed_seq(envelope: SignedEnvelope) -> int:
    """The seq a checkpoint claims to cover, read without trusting it (0 if unreadable)."""
    try:
        return CheckpointStatement.model_validate_json(envelope.payload).seq
    except ValueError:
        return 0


class _Walk:
    """One pass over the entries; stops hashing after the first broken link."""

    def __init__(self, wanted: set[int]) -> None:
        self.wanted = wanted
        self.hashes: dict[int, str] = {}  # stored hash at each checkpointed seq
        self.count = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.broken: Problem | None = None

    def step(self, row: AuditRow) -> None:
        self.count += 1
        if self.broken is None:
            self.broken = _check(row, self.last_seq, self.last_hash)
        if row.seq in self.wanted:
            self.hashes[row.seq] = row.hash
        self.last_seq, self.last_hash = row.seq, row.hash

    def through(self, rows: Iterable[AuditRow]) -> Iterator[AuditRow]:
        """``rows``, each stepped over on its way (so the index check shares the pass)."""
        for row in rows:
            self.step(row)
            yield row

    def problems(self) -> list[Problem]:
        return [self.broken] if self.broken is not None else []


def _check(row: AuditRow, prev_seq: int, prev_hash: str) -> Problem | None:
    expected = prev_seq + 1
    if row.seq != expected:
        missing = f"#{expected}" if row.seq == expected + 1 else f"#{expected}..#{row.seq - 1}"
        return Problem(expected, Reason.DELETED, f"{missing} missing: the log jumps to #{row.seq}")
    if _hash_as(row, row.seq) != row.hash:
        return _misplaced_or_edited(row)
    if row.prev_hash != prev_hash:
        if prev_seq == 0:
            return Problem(row.seq, Reason.EDITED, "the first entry does not start the chain")
        # This entry is intact, so the one before was changed and then re-hashed.
        return Problem(
            prev_seq,
            Reason.EDITED,
            f"#{prev_seq} was changed and re-hashed: #{row.seq} no longer links to it",
        )
    return None


def _misplaced_or_edited(row: AuditRow) -> Problem:
    low = max(1, row.seq - REORDER_WINDOW)
    for seq in range(low, row.seq + REORDER_WINDOW + 1):
        if seq != row.seq and _hash_as(row, seq) == row.hash:
            return Problem(row.seq, Reason.REORDERED, f"it holds the entry written as #{seq}")
    return Problem(row.seq, Reason.EDITED, "its content no longer matches its hash")


def _hash_as(row: AuditRow, seq: int) -> str:
    return entry_hash(
        seq=seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subjects=row.subjects,
        details=row.details,
        prev_hash=row.prev_hash,
    )


def _compare_checkpoints(statements: list[CheckpointStatement], walk: _Walk) -> list[Problem]:
    problems: list[Problem] = []
    good_below = 0  # newest seq that a matching checkpoint vouches for
    for st in sorted(statements, key=lambda s: s.seq):
        if st.seq == 0:
            continue
        if st.seq > walk.last_seq:
            problems.append(
                Problem(
                    walk.last_seq + 1,
                    Reason.TRUNCATED,
                    f"the log ends at #{walk.last_seq}, but a checkpoint signed at "
                    f"{st.at.isoformat()} covers #{st.seq}",
                )
            )
        elif st.seq not in walk.hashes:
            continue  # that entry is missing: the chain walk reports it as deleted
        elif walk.hashes[st.seq] != st.hash:
            problems.append(
                Problem(
                    st.seq,
                    Reason.CHECKPOINT_MISMATCH,
                    f"the checkpoint signed at {st.at.isoformat()} says #{st.seq} hashes to "
                    f"{st.hash[:16]}..., the log says {walk.hashes[st.seq][:16]}...: the chain "
                    f"was rewritten somewhere in #{good_below + 1}..#{st.seq}",
                )
            )
        else:
            good_below = max(good_below, st.seq)
    return problems


def _compare_head(session: Session, walk: _Walk) -> list[Problem]:
    seq, hash_ = read_audit_head(session)
    if seq > walk.last_seq:
        return [
            Problem(
                walk.last_seq + 1,
                Reason.TRUNCATED,
                f"the log ends at #{walk.last_seq} but its head row says #{seq}",
            )
        ]
    if seq < walk.last_seq:
        return [
            Problem(
                seq + 1,
                Reason.HEAD_MISMATCH,
                f"entries #{seq + 1}..#{walk.last_seq} were added without moving the head row",
            )
        ]
    if hash_ != walk.last_hash:
        return [
            Problem(
                seq,
                Reason.HEAD_MISMATCH,
                f"the head row says #{seq} hashes to {hash_[:16]}..., the entry says "
                f"{walk.last_hash[:16]}...",
            )
        ]
    return []
