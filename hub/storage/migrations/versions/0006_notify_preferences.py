"""Notification preferences, quiet hours and delivery receipts (issue 12).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _person_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["person_id"], ["people.id"], name=op.f(f"fk_{table}_person_id_people"), ondelete="CASCADE"
    )


def upgrade() -> None:
    # Nullable additions: SQLite adds them without rebuilding the table.
    op.add_column("notification_deliveries", _when("next_attempt_at", nullable=True))
    op.add_column("notification_deliveries", _text("provider_ref", 64, nullable=True))
    op.create_table(
        "notifications",
        _text("dedup_key", 200),
        _text("kind", 40),
        _text("home_id", 36, nullable=True),
        _text("device_id", 63),
        sa.Column("safety", sa.Boolean(), nullable=False),
        _text("title", 200),
        _text("body", 1000),
        _text("url", 500),
        _text("tag", 100),
        sa.Column("data", sa.JSON(), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["home_id"],
            ["homes.id"],
            name=op.f("fk_notifications_home_id_homes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_home_id"), "notifications", ["home_id"])
    op.create_index(op.f("ix_notifications_created_at"), "notifications", ["created_at"])
    op.create_table(
        "notification_recipients",
        _text("dedup_key", 200),
        _text("person_id", 36),
        _text("device_id", 63),
        _text("kind", 40),
        _text("skipped", 20, nullable=True),
        _when("seen_at", nullable=True),
        _when("created_at"),
        sa.ForeignKeyConstraint(
            ["dedup_key"],
            ["notifications.dedup_key"],
            name=op.f("fk_notification_recipients_dedup_key_notifications"),
            ondelete="CASCADE",
        ),
        _person_fk("notification_recipients"),
        sa.PrimaryKeyConstraint("dedup_key", "person_id", name=op.f("pk_notification_recipients")),
    )
    for column in ("person_id", "created_at"):
        op.create_index(
            op.f(f"ix_notification_recipients_{column}"), "notification_recipients", [column]
        )
    op.create_table(
        "notification_preferences",
        _text("person_id", 36),
        sa.Column("muted_kinds", sa.JSON(), nullable=False),
        sa.Column("off_channels", sa.JSON(), nullable=False),
        _text("quiet_start", 5, nullable=True),
        _text("quiet_end", 5, nullable=True),
        _text("timezone", 64, nullable=True),
        sa.Column("rings_in_quiet_hours", sa.Boolean(), nullable=False),
        _when("updated_at"),
        _person_fk("notification_preferences"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_notification_preferences")),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    op.drop_table("notification_recipients")
    op.drop_table("notifications")
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.drop_column("provider_ref")
        batch.drop_column("next_attempt_at")
