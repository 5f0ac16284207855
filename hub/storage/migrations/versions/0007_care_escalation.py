"""Unanswered-ring escalation and break-glass (issue 9).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "escalation_policies",
        _text("home_id", 36),
        sa.Column("contacts", sa.JSON(), nullable=False),
        _int("step_timeout_s"),
        _flag("include_telecare"),
        _flag("telecare_may_unlock"),
        _when("updated_at"),
        _text("updated_by", 36, nullable=True),
        _fk("escalation_policies", "home_id", "homes"),
        sa.PrimaryKeyConstraint("home_id", name=op.f("pk_escalation_policies")),
    )
    op.create_table(
        "ring_escalations",
        _text("id", 36),
        _text("event_id", 36),
        _text("home_id", 36),
        _text("device_id", 63),
        _text("snapshot_id", 36, nullable=True),
        _when("ring_at"),
        _text("status", 16),
        sa.Column("plan", sa.JSON(), nullable=False),
        _int("next_step"),
        _when("next_due_at", nullable=True),
        _int("step_timeout_s"),
        _flag("telecare_may_unlock"),
        _when("answered_at", nullable=True),
        _text("answered_by", 100, nullable=True),
        _when("finished_at", nullable=True),
        _fk("ring_escalations", "home_id", "homes"),
        _fk("ring_escalations", "device_id", "devices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ring_escalations")),
        sa.UniqueConstraint("event_id", name=op.f("uq_ring_escalations_event_id")),
    )
    for column in ("home_id", "device_id"):
        op.create_index(op.f(f"ix_ring_escalations_{column}"), "ring_escalations", [column])
    op.create_index(
        "ix_ring_escalations_status_next_due_at", "ring_escalations", ["status", "next_due_at"]
    )
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "escalation_steps",
        sa.Column("id", big, autoincrement=True, nullable=False),
        _text("escalation_id", 36),
        _int("step"),
        _text("kind", 16),
        sa.Column("recipients", sa.JSON(), nullable=False),
        _text("notify_key", 200),
        _when("at"),
        _when("access_until", nullable=True),
        _fk("escalation_steps", "escalation_id", "ring_escalations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_steps")),
        sa.UniqueConstraint(
            "escalation_id", "step", name=op.f("uq_escalation_steps_escalation_id_step")
        ),
    )
    op.create_index(
        op.f("ix_escalation_steps_escalation_id"), "escalation_steps", ["escalation_id"]
    )
    op.create_table(
        "break_glass",
        _text("id", 36),
        _text("home_id", 36),
        _text("device_id", 63),
        _text("person_id", 36),
        _text("reason", 500),
        _when("opened_at"),
        _when("expires_at"),
        _int("unlocks"),
        _when("reviewed_at", nullable=True),
        _text("reviewed_by", 36, nullable=True),
        _text("review_note", 1000, nullable=True),
        _fk("break_glass", "home_id", "homes"),
        _fk("break_glass", "device_id", "devices"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_break_glass")),
    )
    op.create_index(op.f("ix_break_glass_home_id"), "break_glass", ["home_id"])


def downgrade() -> None:
    op.drop_table("break_glass")
    op.drop_table("escalation_steps")
    op.drop_table("ring_escalations")
    op.drop_table("escalation_policies")
