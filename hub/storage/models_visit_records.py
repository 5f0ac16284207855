"""Tables of visit_records (see the migration that creates them)."""

from __future__ import annotations
