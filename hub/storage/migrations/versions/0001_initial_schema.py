"""Initial schema: registry, events, snapshots, commands, alerts, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Plain SQL types only (no imports from the models): a migration must keep meaning
what it meant when it was written, whatever the models become.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Column("id", big, autoincrement=True, nullable=False)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _big(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*(columns or ("id",)), name=op.f(f"pk_{table}"))


def _index(table: str, *columns: str, name: str | None = None, **kw: object) -> None:
    op.create_index(name or op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), **kw)


def upgrade() -> None:
    _registry()
    _events()
    _commands()
    _audit()


def _registry() -> None:
    op.create_table(
        "homes",
        _text("id", 36),
        _text("name", 200),
        _text("timezone", 64),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("policies", sa.JSON(), nullable=False),
        _when("created_at"),
        _pk("homes"),
    )
    op.create_table(
        "people",
        _text("id", 36),
        _text("display_name", 200),
        sa.Column("contact", sa.JSON(), nullable=False),
        _when("created_at"),
        _pk("people"),
    )
    op.create_table(
        "memberships",
        _id(),
        _text("person_id", 36),
        _text("home_id", 36),
        _text("role", 32),
        sa.Column("grants", sa.JSON(), nullable=False),
        _when("created_at"),
        _fk("home_id", "memberships", "homes", "CASCADE"),
        _fk("person_id", "memberships", "people", "CASCADE"),
        _pk("memberships"),
        sa.UniqueConstraint(
            "person_id", "home_id", "role", name=op.f("uq_memberships_person_id_home_id_role")
        ),
    )
    _index("memberships", "home_id")
    _index("memberships", "person_id")
    op.create_table(
        "devices",
        _text("id", 63),
        _text("home_id", 36, nullable=True),
        _text("name", 200),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        _when("registered_at"),
        _when("revoked_at", nullable=True),
        _text("health", 32),
        _when("health_changed_at", nullable=True),
        _when("last_seen", nullable=True),
        _text("boot_id", 64, nullable=True),
        _text("software_version", 64, nullable=True),
        _text("protocol_version", 16, nullable=True),
        _when("telemetry_at", nullable=True),
        _when("telemetry_received_at", nullable=True),
        sa.Column("clock_synced", sa.Boolean(), nullable=True),
        _big("monotonic_ms", nullable=True),
        _big("uptime_s", nullable=True),
        sa.Column("cpu_temp_c", sa.Float(), nullable=True),
        _big("disk_free_bytes", nullable=True),
        _big("outbox_depth", nullable=True),
        _big("outbox_bytes", nullable=True),
        _big("outbox_dropped", nullable=True),
        _big("last_seq", nullable=True),
        _big("device_command_counter", nullable=True),
        sa.Column("heartbeat_interval_s", sa.Integer(), nullable=True),
        _text("lock_state", 32),
        _text("door_state", 32),
        sa.Column("privacy", sa.Boolean(), nullable=False),
        _when("state_at", nullable=True),
        _when("state_received_at", nullable=True),
        _big("state_seq", nullable=True),
        _big("stored_through"),
        _fk("home_id", "devices", "homes", "SET NULL"),
        _pk("devices"),
    )
    _index("devices", "home_id")
    _index("devices", "last_seen")


def _events() -> None:
    op.create_table(
        "events",
        _id(),
        _text("device_id", 63),
        _big("seq"),
        _text("event_id", 36),
        _text("kind", 32),
        _text("boot_id", 64),
        _when("device_time"),
        _when("received_at"),
        sa.Column("payload", sa.JSON(), nullable=False),
        _fk("device_id", "events", "devices", "CASCADE"),
        _pk("events"),
        sa.UniqueConstraint("device_id", "seq", name=op.f("uq_events_device_id_seq")),
    )
    _index("events", "device_id", "kind", "device_time")
    _index("events", "event_id")
    _index("events", "received_at")
    op.create_table(
        "event_conflicts",
        _id(),
        _text("device_id", 63),
        _big("seq"),
        _text("event_id", 36),
        _text("stored_event_id", 36),
        _text("kind", 32),
        _when("received_at"),
        sa.Column("payload", sa.JSON(), nullable=False),
        _fk("device_id", "event_conflicts", "devices", "CASCADE"),
        _pk("event_conflicts"),
        sa.UniqueConstraint(
            "device_id", "seq", "event_id", name=op.f("uq_event_conflicts_device_id_seq_event_id")
        ),
    )
    op.create_table(
        "abandoned_seqs",
        _text("device_id", 63),
        _big("seq"),
        _text("declared_by", 36),
        _when("declared_at"),
        _fk("device_id", "abandoned_seqs", "devices", "CASCADE"),
        _pk("abandoned_seqs", "device_id", "seq"),
    )
    op.create_table(
        "sequence_gaps",
        _id(),
        _text("device_id", 63),
        _big("from_seq"),
        _big("to_seq"),
        _when("detected_at"),
        _text("status", 32),
        _when("settled_at", nullable=True),
        _fk("device_id", "sequence_gaps", "devices", "CASCADE"),
        _pk("sequence_gaps"),
        sa.UniqueConstraint(
            "device_id",
            "from_seq",
            "to_seq",
            name=op.f("uq_sequence_gaps_device_id_from_seq_to_seq"),
        ),
    )
    _index("sequence_gaps", "device_id", "status")
    op.create_table(
        "snapshots",
        _text("id", 36),
        _text("device_id", 63),
        _big("seq"),
        _text("sha256", 64),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        _text("reason", 16),
        _when("taken_at"),
        _when("received_at"),
        _text("event_id", 36, nullable=True),
        _text("command_id", 36, nullable=True),
        _text("path", 128),
        _fk("device_id", "snapshots", "devices", "CASCADE"),
        _pk("snapshots"),
    )
    for column in ("device_id", "event_id", "received_at", "sha256"):
        _index("snapshots", column)
    op.create_table(
        "ingest_counters",
        _text("category", 32),
        _text("reason", 64),
        _big("count"),
        _when("last_at"),
        _pk("ingest_counters", "category", "reason"),
    )


def _commands() -> None:
    op.create_table(
        "command_counters",
        _text("device_id", 63),
        _big("value"),
        _fk("device_id", "command_counters", "devices", "CASCADE"),
        _pk("command_counters", "device_id"),
    )
    op.create_table(
        "commands",
        _text("id", 36),
        _text("device_id", 63),
        _text("action", 32),
        _big("counter"),
        _text("requested_by", 80),
        sa.Column("reason", sa.Text(), nullable=False),
        _text("status", 32),
        _when("created_at"),
        _when("expires_at", nullable=True),
        _when("sent_at", nullable=True),
        _when("acked_at", nullable=True),
        sa.Column("ack_payload", sa.Text(), nullable=True),
        _text("ack_signature", 128, nullable=True),
        _text("ack_key_id", 16, nullable=True),
        _text("reject_reason", 64, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _fk("device_id", "commands", "devices", "CASCADE"),
        _pk("commands"),
        sa.UniqueConstraint("device_id", "counter", name=op.f("uq_commands_device_id_counter")),
    )
    _index("commands", "created_at")
    _index("commands", "device_id")
    op.create_table(
        "alerts",
        _id(),
        _text("kind", 32),
        _text("scope", 80),
        _text("device_id", 63, nullable=True),
        _text("home_id", 36, nullable=True),
        _text("status", 32),
        _when("raised_at"),
        _when("last_raised_at"),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _when("acknowledged_at", nullable=True),
        _text("acknowledged_by", 80, nullable=True),
        _when("resolved_at", nullable=True),
        _text("resolved_by", 80, nullable=True),
        _fk("device_id", "alerts", "devices", "CASCADE"),
        _fk("home_id", "alerts", "homes", "CASCADE"),
        _pk("alerts"),
    )
    for column in ("device_id", "home_id", "status"):
        _index("alerts", column)
    # At most one open alert per (scope, kind).
    open_only = sa.text("resolved_at IS NULL")
    _index(
        "alerts",
        "scope",
        "kind",
        name="uq_alerts_open_scope_kind",
        unique=True,
        sqlite_where=open_only,
        postgresql_where=open_only,
    )


def _audit() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        _when("at"),
        _text("actor", 100),
        _text("action", 40),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _text("prev_hash", 64),
        _text("hash", 64),
        _pk("audit_entries", "seq"),
    )
    _index("audit_entries", "action")
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        _big("seq"),
        _text("hash", 64),
        _pk("audit_head"),
    )
    # The row every append locks; seq 0 with the all-zero hash is the chain's genesis.
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _big("seq"),
        _text("hash", 64),
        _when("signed_at"),
        _text("key_id", 16),
        sa.Column("envelope", sa.Text(), nullable=False),
        _pk("audit_checkpoints"),
    )
    _index("audit_checkpoints", "seq")
    _index("audit_checkpoints", "signed_at")


def downgrade() -> None:
    for table in (
        "audit_checkpoints",
        "audit_head",
        "audit_entries",
        "alerts",
        "commands",
        "command_counters",
        "ingest_counters",
        "snapshots",
        "sequence_gaps",
        "abandoned_seqs",
        "event_conflicts",
        "events",
        "devices",
        "memberships",
        "people",
        "homes",
    ):
        op.drop_table(table)
