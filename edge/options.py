"""The agent's tunable behaviour (the device file's values, or test settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import __version__


@dataclass(frozen=True, slots=True)
class AgentOptions:
    hold_s: float = 5.0
    jam_timeout_s: float = 2.0
    lock_kind: Literal["strike", "deadbolt"] = "strike"
    cooldown_s: float = 3.0
    heartbeat_s: float = 30.0
    snapshot_width: int = 640
    jpeg_quality: int = 80
    buffer_frames: int = 5
    frame_interval_s: float = 0.2
    max_rejection_acks_per_min: int = 30
    # Indoor cue: argv run with "{text}" filled in (no shell), and its time limit.
    announce_command: tuple[str, ...] | None = None
    announce_timeout_s: float = 10.0
    software_version: str = __version__
