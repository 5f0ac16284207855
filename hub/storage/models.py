"""Every table of the hub, in one import (Alembic compares the schema against this).

>>> from hub.storage.models import Base
>>> "events" in Base.metadata.tables
True
"""

from __future__ import annotations

# Each module below registers its own tables when imported (issue 9, 10 and 12 work).
from . import (  # noqa: F401
    models_care,
    models_carer_photos,  # issue 9: carers' photos with consent
    models_homeassistant,
    models_privacy,
    models_visit_records,
    models_webhooks,
)
from .models_accounts import Account, Invitation, WebSession
from .models_audit import AuditCheckpointRow, AuditEntryRow, AuditHead
from .models_commands import (
    Alert,
    AlertKind,
    AlertStatus,
    Command,
    CommandCounter,
    CommandStatus,
)
from .models_events import (
    AbandonedSeq,
    Event,
    EventConflict,
    GapStatus,
    IngestCounter,
    SequenceGap,
    StoredSnapshot,
)
from .models_notify import DeliveryRow, PushSubscriptionRow  # noqa: F401  (registers the tables)
from .models_registry import Device, DeviceHealth, Grant, Home, Membership, Person, Role
from .models_visits import CheckIn, VisitWindow
from .types import Base

__all__ = [
    "AbandonedSeq",
    "Account",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "AuditCheckpointRow",
    "AuditEntryRow",
    "AuditHead",
    "Base",
    "CheckIn",
    "Command",
    "CommandCounter",
    "CommandStatus",
    "Device",
    "DeviceHealth",
    "Event",
    "EventConflict",
    "GapStatus",
    "Grant",
    "Home",
    "IngestCounter",
    "Invitation",
    "Membership",
    "Person",
    "Role",
    "SequenceGap",
    "StoredSnapshot",
    "VisitWindow",
    "WebSession",
]
