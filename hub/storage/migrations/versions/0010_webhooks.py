"""Webhook subscriptions, outbox and deliveries (issue 10).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "webhook_subscriptions",
        _text("id", 36),
        _text("partner", 200),
        _text("url", 2048),
        sa.Column("event_types", sa.JSON(), nullable=False),
        _text("home_id", 36, nullable=True),
        _text("secret", 100),
        _when("created_at"),
        _text("created_by", 100),
        sa.ForeignKeyConstraint(
            ["home_id"],
            ["homes.id"],
            name=op.f("fk_webhook_subscriptions_home_id_homes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(op.f("ix_webhook_subscriptions_home_id"), "webhook_subscriptions", ["home_id"])
    op.create_table(
        "webhook_outbox",
        sa.Column("id", big, autoincrement=True, nullable=False),
        _text("ce_id", 64),
        _text("type", 64),
        _text("subject", 120),
        _text("home_id", 36, nullable=True),
        _when("time"),
        sa.Column("data", sa.JSON(), nullable=False),
        _when("created_at"),
        _when("fanned_out_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_outbox")),
        sa.UniqueConstraint("ce_id", name=op.f("uq_webhook_outbox_ce_id")),
    )
    op.create_index(op.f("ix_webhook_outbox_fanned_out_at"), "webhook_outbox", ["fanned_out_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", big, autoincrement=True, nullable=False),
        _text("subscription_id", 36),
        sa.Column("outbox_id", big, nullable=False),
        _text("status", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt_at"),
        sa.Column("last_status", sa.Integer(), nullable=True),
        _text("last_error", 500, nullable=True),
        _when("created_at"),
        _when("updated_at"),
        _when("delivered_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["webhook_outbox.id"],
            name=op.f("fk_webhook_deliveries_outbox_id_webhook_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "subscription_id",
            "outbox_id",
            name=op.f("uq_webhook_deliveries_subscription_id_outbox_id"),
        ),
    )
    for column in ("subscription_id", "outbox_id"):
        op.create_index(op.f(f"ix_webhook_deliveries_{column}"), "webhook_deliveries", [column])
    op.create_index(
        "ix_webhook_deliveries_status_next_attempt_at",
        "webhook_deliveries",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_outbox")
    op.drop_table("webhook_subscriptions")
