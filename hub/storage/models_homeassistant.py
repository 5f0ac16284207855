"""Tables of homeassistant (see the migration that creates them)."""

from __future__ import annotations
