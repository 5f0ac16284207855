"""Escalation on the ring card and erasure's reach (issue 9): no schema change.

The live escalation lines use the existing ``ring_escalations`` / ``escalation_steps``
rows, and erasure blanks or redacts existing columns (``hub.erasure_reach``), so this
revision only keeps the chain of revisions in order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # nothing to change: see the module text


def downgrade() -> None:
    pass
