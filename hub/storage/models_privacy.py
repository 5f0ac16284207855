"""Tables of privacy (see the migration that creates them)."""

from __future__ import annotations
