"""Webhook signing secrets sealed at rest, and rotated with a grace period.

The sealed form of a ``whsec_`` secret (``whsealed_`` + 80 characters) fits the
existing ``webhook_subscriptions.secret`` column, and plain secrets from before the
key are sealed on their next use (or by ``doorstep hub seal-secrets``), so no data
moves here. A rotation keeps the old secret (sealed too) until a time, during which
requests carry both signatures.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_subscriptions",
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
    )
    op.add_column(
        "webhook_subscriptions",
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret")
