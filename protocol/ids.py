"""Identifiers used on the wire.

A device id is the CN of the device's client certificate and a topic level, so
it must never contain MQTT wildcards or separators::

    >>> check_device_id("door-7f3a9c")
    'door-7f3a9c'
    >>> new_device_id()[:5]
    'door-'
"""

from __future__ import annotations

import re
import secrets
import uuid

from .errors import InvalidDeviceId

DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,62}$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)


def check_device_id(value: str) -> str:
    """Return ``value`` if it is a valid device id, else raise ``InvalidDeviceId``."""
    if not isinstance(value, str) or not _DEVICE_ID_RE.fullmatch(value):
        raise InvalidDeviceId(
            f"device id {value!r} is invalid: use 3-63 characters of a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    return value


def new_device_id() -> str:
    """A fresh random device id, e.g. ``door-3f9a1c7e2b``."""
    return f"door-{secrets.token_hex(5)}"


def new_message_id() -> str:
    """A fresh unique id for an event, snapshot or command (UUID4, text form)."""
    return str(uuid.uuid4())
