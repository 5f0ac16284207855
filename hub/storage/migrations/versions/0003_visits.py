"""Care schedule: visit windows of carers and their check-ins.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _text(name: str, length: int) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=False)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "visit_windows",
        _text("id", 36),
        _text("home_id", 36),
        _text("carer_id", 36),
        _text("agency", 200),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("start", sa.Time(), nullable=False),
        sa.Column("end", sa.Time(), nullable=False),
        sa.Column("tolerance_min", sa.Integer(), nullable=False),
        _text("created_by", 36),
        _when("created_at"),
        _fk("home_id", "visit_windows", "homes"),
        _fk("carer_id", "visit_windows", "people"),
        sa.CheckConstraint(
            "(weekday IS NULL) <> (on_date IS NULL)",
            name=op.f("ck_visit_windows_weekly_or_one_off"),
        ),
        sa.CheckConstraint(
            "weekday IS NULL OR (weekday >= 0 AND weekday <= 6)",
            name=op.f("ck_visit_windows_weekday"),
        ),
        sa.CheckConstraint(
            "tolerance_min >= 0 AND tolerance_min <= 240",
            name=op.f("ck_visit_windows_tolerance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_windows")),
    )
    op.create_index(op.f("ix_visit_windows_home_id"), "visit_windows", ["home_id"])
    op.create_index(op.f("ix_visit_windows_carer_id"), "visit_windows", ["carer_id"])
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "check_ins",
        sa.Column("id", big, autoincrement=True, nullable=False),
        _text("window_id", 36),
        _text("person_id", 36),
        _when("at"),
        _fk("window_id", "check_ins", "visit_windows"),
        _fk("person_id", "check_ins", "people"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
    )
    op.create_index(op.f("ix_check_ins_window_id"), "check_ins", ["window_id"])
    op.create_index(op.f("ix_check_ins_person_id"), "check_ins", ["person_id"])
    op.create_index(op.f("ix_check_ins_at"), "check_ins", ["at"])


def downgrade() -> None:
    op.drop_table("check_ins")
    op.drop_table("visit_windows")
