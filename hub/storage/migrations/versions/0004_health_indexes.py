"""Indexes for the health monitor's sweeps, so a pass reads only the devices that matter.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

The monitor asks "which devices, still counted online / degraded, have been silent
since T?" and "which doors are open / unlocked since T?". With 100,000 devices a
full scan per pass cost most of a core; these composite indexes turn each question
into a range read. Plain SQL types only (no imports from the models), like 0001.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_devices_health_last_seen": ["health", "last_seen"],
    "ix_devices_door_state_state_received_at": ["door_state", "state_received_at"],
    "ix_devices_lock_state_state_received_at": ["lock_state", "state_received_at"],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(op.f(name), "devices", columns)


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.drop_index(op.f(name), table_name="devices")
