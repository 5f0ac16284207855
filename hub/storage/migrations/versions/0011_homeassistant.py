"""Home Assistant discovery opt-in per device (issue 10).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_assistant_links",
        sa.Column("device_id", sa.String(length=63), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("share_snapshots", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_home_assistant_links_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_home_assistant_links_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_home_assistant_links")),
    )
    op.create_index(
        op.f("ix_home_assistant_links_person_id"), "home_assistant_links", ["person_id"]
    )


def downgrade() -> None:
    op.drop_table("home_assistant_links")
