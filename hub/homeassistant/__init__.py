"""Home Assistant MQTT discovery for opted-in doors (off by default; issue 10).

The hub, not the door, speaks to Home Assistant: it announces each opted-in door as a
``lock``, an ``event`` (doorbell), diagnostic sensors and, when allowed, an ``image``
of the last ring, publishes their states under ``doorstep/ha/{device}/...`` and reads
Home Assistant's lock requests from ``doorstep/ha/{device}/lock/set``. A request
becomes a command only through ``hub.commands`` (authorised, signed, audited).

    bridge = HomeAssistantBridge(db, link, bus, commands, files, HomeAssistantSettings())
    bridge.start(); bridge.announce("door-1a2b3c"); ...; bridge.stop()
"""

from __future__ import annotations

from .bridge import HomeAssistantBridge
from .settings import HomeAssistantSettings

__all__ = ["HomeAssistantBridge", "HomeAssistantSettings"]
