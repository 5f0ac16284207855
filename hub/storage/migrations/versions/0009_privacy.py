"""Consent records, privacy switch and erasure (issue 9).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "consent_records",
        _text("id", 36),
        _text("home_id", 36),
        _text("resident_id", 36, nullable=True),
        _text("basis", 32),
        _text("given_by", 200, nullable=True),
        _text("given_by_person_id", 36, nullable=True),
        _text("decided_by", 200, nullable=True),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("consented_on", sa.Date(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        _text("recorded_by", 100),
        _when("recorded_at"),
        sa.ForeignKeyConstraint(
            ["home_id"],
            ["homes.id"],
            name=op.f("fk_consent_records_home_id_homes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        "ix_consent_records_home_id_recorded_at", "consent_records", ["home_id", "recorded_at"]
    )
    for column in ("resident_id", "given_by_person_id", "review_on"):
        op.create_index(op.f(f"ix_consent_records_{column}"), "consent_records", [column])
    op.create_table(
        "person_erasures",
        _text("person_id", 36),
        _when("erased_at"),
        _text("erased_by", 100),
        sa.Column("homes", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_erasures")),
    )


def downgrade() -> None:
    op.drop_table("person_erasures")
    op.drop_table("consent_records")
