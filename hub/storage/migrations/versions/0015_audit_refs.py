"""The audit reference index: which entries name which reference (home, door, person...).

``audit_refs(ref, seq)`` holds one row per distinct reference among each entry's actor
and subjects, so a home's or a person's entries are an index range, not a scan of
the whole chain. The one append writes it with the entry from now on; this revision
fills it from the existing entries, in batches of seq, so a log of millions of entries
never sits in memory. Verification never reads it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

_entries = sa.table(
    "audit_entries",
    sa.column("seq", sa.BigInteger()),
    sa.column("actor", sa.String(100)),
    sa.column("subjects", sa.JSON()),
)


def upgrade() -> None:
    refs = op.create_table(
        "audit_refs",
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("ref", "seq", name=op.f("pk_audit_refs")),
    )
    _backfill(op.get_bind(), refs)


def _backfill(conn: sa.Connection, refs: sa.Table) -> None:
    """Index every existing entry, BATCH entries at a time (keyset on seq)."""
    last = None
    while True:
        stmt = sa.select(_entries.c.seq, _entries.c.actor, _entries.c.subjects)
        if last is not None:
            stmt = stmt.where(_entries.c.seq > last)
        rows = conn.execute(stmt.order_by(_entries.c.seq).limit(BATCH)).all()
        if not rows:
            return
        conn.execute(
            refs.insert(),
            [
                {"ref": name, "seq": row.seq}
                for row in rows
                for name in dict.fromkeys((row.actor, *(row.subjects or ())))
            ],
        )
        last = rows[-1].seq


def downgrade() -> None:
    op.drop_table("audit_refs")
