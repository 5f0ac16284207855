"""Carers' photos, each with the consent that allows it (issue 9).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "carer_photos",
        _text("id", 36),
        _text("home_id", 36),
        _text("carer_id", 36),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        _text("sha256", 64),
        _text("consent_by", 32),
        sa.Column("consent_statement", sa.Text(), nullable=True),
        sa.Column("scope", sa.JSON(), nullable=False),
        _text("recorded_by", 36),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["home_id"],
            ["homes.id"],
            name=op.f("fk_carer_photos_home_id_homes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["carer_id"],
            ["people.id"],
            name=op.f("fk_carer_photos_carer_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carer_photos")),
        sa.UniqueConstraint("home_id", "carer_id", name=op.f("uq_carer_photos_home_id_carer_id")),
    )
    op.create_index(op.f("ix_carer_photos_carer_id"), "carer_photos", ["carer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_carer_photos_carer_id"), table_name="carer_photos")
    op.drop_table("carer_photos")
