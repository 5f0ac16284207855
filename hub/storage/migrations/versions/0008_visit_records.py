"""Visit verification: arrivals, entries, departures, late and missed visits (issue 9).

Also the home's check-in policy: family approval of a check-in, and the carers whose
check-in unlocks the door by itself, and the approvals themselves.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "visit_records",
        sa.Column("id", big, autoincrement=True, nullable=False),
        _text("window_id", 36),
        _text("home_id", 36),
        _text("carer_id", 36),
        _text("agency", 200),
        _when("planned_start"),
        _when("planned_end"),
        sa.Column("tolerance_min", sa.Integer(), nullable=False),
        _text("status", 32),
        _flag("late"),
        _when("arrival_at", nullable=True),
        _text("arrival_via", 16, nullable=True),
        _when("entry_at", nullable=True),
        _text("entry_command_id", 36, nullable=True),
        _when("departure_at", nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        _flag("final"),
        _when("non_arrival_notified_at", nullable=True),
        _when("updated_at"),
        _fk("visit_records", "window_id", "visit_windows"),
        _fk("visit_records", "home_id", "homes"),
        _fk("visit_records", "carer_id", "people"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_records")),
        sa.UniqueConstraint(
            "window_id", "planned_start", name=op.f("uq_visit_records_window_id_planned_start")
        ),
    )
    for column in ("window_id", "carer_id", "planned_start", "status", "final"):
        op.create_index(op.f(f"ix_visit_records_{column}"), "visit_records", [column])
    op.create_index(
        "ix_visit_records_home_id_planned_start", "visit_records", ["home_id", "planned_start"]
    )
    op.create_table(
        "visit_policies",
        _text("home_id", 36),
        _flag("family_approves_check_in"),
        _text("changed_by", 36),
        _when("changed_at"),
        _fk("visit_policies", "home_id", "homes"),
        sa.PrimaryKeyConstraint("home_id", name=op.f("pk_visit_policies")),
    )
    op.create_table(
        "auto_unlock_carers",
        _text("home_id", 36),
        _text("carer_id", 36),
        _text("enabled_by", 36),
        _when("enabled_at"),
        _fk("auto_unlock_carers", "home_id", "homes"),
        _fk("auto_unlock_carers", "carer_id", "people"),
        sa.PrimaryKeyConstraint("home_id", "carer_id", name=op.f("pk_auto_unlock_carers")),
    )
    op.create_table(
        "check_in_approvals",
        _text("id", 36),
        _text("home_id", 36),
        _text("window_id", 36),
        _text("carer_id", 36),
        _when("requested_at"),
        _when("expires_at"),
        _text("status", 32),
        _text("decided_by", 36, nullable=True),
        _when("decided_at", nullable=True),
        _text("command_id", 36, nullable=True),
        _fk("check_in_approvals", "home_id", "homes"),
        _fk("check_in_approvals", "window_id", "visit_windows"),
        _fk("check_in_approvals", "carer_id", "people"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in_approvals")),
    )
    for column in ("home_id", "window_id"):
        op.create_index(op.f(f"ix_check_in_approvals_{column}"), "check_in_approvals", [column])


def downgrade() -> None:
    for table in ("check_in_approvals", "auto_unlock_carers", "visit_policies", "visit_records"):
        op.drop_table(table)
