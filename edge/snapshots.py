"""Snapshots: turns a buffered camera picture into a durable outbox item and sends it.

Runs on the agent's worker. No picture leaves the door while the privacy switch is on.

    >>> shots = Snapshots(frames, outbox, publisher, make, privacy)   # doctest: +SKIP
    >>> shots.send("request", shots.best_still(), command_id=cmd.id)  # doctest: +SKIP
    >>> shots.live_picture(cmd.id, max_age_s=0.5)                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol.codec import encode
from protocol.ids import new_message_id

from .frames import FrameBuffer, Still
from .messages import MessageFactory
from .outbox import Outbox
from .publisher import OutboxPublisher

__all__ = ["Snapshots"]


class Snapshots:
    def __init__(
        self,
        frames: FrameBuffer | None,
        outbox: Outbox,
        publisher: OutboxPublisher,
        make: MessageFactory,
        privacy: Callable[[], bool],
    ) -> None:
        self.frames = frames
        self.outbox = outbox
        self.publisher = publisher
        self.make = make
        self._privacy = privacy

    def best_still(self) -> Still | None:
        """The sharpest recent picture (already encoded), or None: no camera, privacy."""
        if self.frames is None or self._privacy():
            return None
        return self.frames.best()

    def item(
        self,
        reason: str,
        still: Still | None,
        *,
        event_id: str | None = None,
        command_id: str | None = None,
    ) -> tuple[str, Any] | None:
        """(snapshot id, outbox item) for ``still``, or None without one."""
        if still is None:
            return None
        snapshot_id = new_message_id()

        def build(seq: int) -> Any:
            return encode(
                self.make.snapshot(
                    still.jpeg,
                    seq,
                    snapshot_id=snapshot_id,
                    width=still.width,
                    height=still.height,
                    reason=reason,
                    event_id=event_id,
                    command_id=command_id,
                )
            )

        return snapshot_id, (build, "snapshot")

    def send(
        self, reason: str, still: Still | None, *, command_id: str | None = None
    ) -> str | None:
        """Queue ``still`` as a snapshot and send it; its id, or None without a picture."""
        item = self.item(reason, still, command_id=command_id)
        if item is None:
            return None
        self.outbox.append_many([item[1]])
        self.publisher.flush()
        return item[0]

    def live_picture(self, command_id: str, max_age_s: float) -> None:
        """One live-view picture (on the worker): the newest, if privacy allows."""
        if self._privacy() or self.frames is None:
            return
        self.send("live_view", self.frames.latest(max_age_s), command_id=command_id)
