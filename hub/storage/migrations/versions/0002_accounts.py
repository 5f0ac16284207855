"""Web accounts: login credentials, invitations, browser sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "accounts",
        _text("person_id", 36),
        _text("username", 80),
        _text("email", 254, nullable=True),
        _text("password_hash", 255),
        _text("totp_secret", 64, nullable=True),
        sa.Column("totp_confirmed", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _when("locked_until", nullable=True),
        _when("created_at"),
        _when("last_login_at", nullable=True),
        _fk("person_id", "accounts", "people"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_accounts_username")),
        sa.UniqueConstraint("email", name=op.f("uq_accounts_email")),
    )
    op.create_table(
        "invitations",
        _text("id", 36),
        _text("token_hash", 64),
        _text("home_id", 36),
        _text("role", 32),
        sa.Column("grants", sa.JSON(), nullable=False),
        _text("invited_by", 80),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        _text("used_by", 36, nullable=True),
        _fk("home_id", "invitations", "homes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_home_id"), "invitations", ["home_id"])
    op.create_table(
        "web_sessions",
        _text("id_hash", 64),
        _text("person_id", 36),
        _text("csrf_token", 64),
        _when("created_at"),
        _when("last_seen_at"),
        _when("step_up_at", nullable=True),
        _fk("person_id", "web_sessions", "people"),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_person_id"), "web_sessions", ["person_id"])


def downgrade() -> None:
    for table in ("web_sessions", "invitations", "accounts"):
        op.drop_table(table)
