"""Errors raised by the protocol package.

Every error says what was wrong and, where it helps, what to do. Leaves also
inherit ``ValueError`` so callers that only know the builtin still catch them.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of every error the Doorstep protocol raises."""


class InvalidTopic(ProtocolError, ValueError):
    """A topic is not part of the Doorstep topic tree."""


class InvalidDeviceId(ProtocolError, ValueError):
    """A device id does not follow the id rules (see ``protocol.ids``)."""


class MalformedMessage(ProtocolError, ValueError):
    """A payload is not valid JSON / UTF-8, or not a JSON object."""


class MessageInvalid(ProtocolError, ValueError):
    """A payload is JSON but does not match its message schema."""


class UnsupportedVersion(MessageInvalid):
    """A payload carries a schema version ``v`` this side does not speak."""


class PayloadTooLarge(ProtocolError, ValueError):
    """A payload is bigger than the limit for its topic kind."""


class UnknownMessage(ProtocolError, ValueError):
    """A topic kind or event kind this protocol version does not define."""


class TopicMismatch(ProtocolError, ValueError):
    """The device (or event kind) named in the payload differs from the topic's."""


class SignatureInvalid(ProtocolError, ValueError):
    """A signed envelope's signature does not verify with the pinned key."""


class KeyFileError(ProtocolError, ValueError):
    """A key file could not be read or has the wrong type."""
