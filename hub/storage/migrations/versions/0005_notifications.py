"""Notifications: Web Push subscriptions and delivery records (failures visible to admins).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _person_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["person_id"], ["people.id"], name=op.f(f"fk_{table}_person_id_people"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        _text("id", 36),
        _text("person_id", 36),
        _text("endpoint", 2048),
        _text("p256dh", 200),
        _text("auth", 100),
        _when("created_at"),
        _person_fk("push_subscriptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_index(op.f("ix_push_subscriptions_person_id"), "push_subscriptions", ["person_id"])
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "notification_deliveries",
        sa.Column("id", big, autoincrement=True, nullable=False),
        _text("dedup_key", 200),
        _text("person_id", 36),
        _text("channel", 20),
        _text("target", 64),
        _text("status", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _text("last_error", 500, nullable=True),
        _when("created_at"),
        _when("updated_at"),
        _person_fk("notification_deliveries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "dedup_key",
            "person_id",
            "channel",
            "target",
            name=op.f("uq_notification_deliveries_dedup_key_person_id_channel_target"),
        ),
    )
    for column in ("person_id", "status"):
        op.create_index(
            op.f(f"ix_notification_deliveries_{column}"), "notification_deliveries", [column]
        )


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    op.drop_table("push_subscriptions")
