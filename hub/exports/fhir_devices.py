"""Doors as HL7 FHIR R4 ``Device`` resources (validated by ``fhir.bundle``).

with db.read_session() as s:
    resources = device_resources(s, {home_id}, unassigned=True)
bundle(resources, now=utcnow())
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from ..storage.models_registry import Device, DeviceHealth
from ..storage.reports import devices_in
from .fhir import fhir_coding, fhir_identifier

DEVICE_TYPE_SYSTEM = "urn:doorstep:device-type"
STATUS_REASON = "http://terminology.hl7.org/CodeSystem/device-status-reason"
_STATUS_REASON = {
    DeviceHealth.ONLINE: "online",
    DeviceHealth.OFFLINE: "offline",
    DeviceHealth.DEGRADED: "not-ready",
}


def device_resource(device: Device, *, site: str = "doorstep-hub") -> dict[str, Any]:
    """A door as an R4 ``Device``: identifier, status, type, versions, owner, location."""
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": device.id,
        "identifier": [fhir_identifier("device", device.id)],
        "status": "inactive" if device.revoked_at is not None else "active",
        "deviceName": [{"name": device.name, "type": "user-friendly-name"}],
        "type": {
            "coding": [fhir_coding(DEVICE_TYPE_SYSTEM, "door-unit", "Doorstep door unit")],
            "text": "door unit: doorbell, lock relay, door contact, camera",
        },
        "owner": {"type": "Organization", "identifier": fhir_identifier("operator", site)},
    }
    reason = _STATUS_REASON.get(DeviceHealth(device.health))
    if reason and device.revoked_at is None:
        resource["statusReason"] = [{"coding": [fhir_coding(STATUS_REASON, reason)]}]
    versions = [("software", device.software_version), ("protocol", device.protocol_version)]
    if any(v for _, v in versions):
        resource["version"] = [{"type": {"text": t}, "value": v} for t, v in versions if v]
    if device.home_id:
        home = fhir_identifier("home", device.home_id)
        resource["location"] = {"type": "Location", "identifier": home}
    return resource


def device_resources(
    session: Session,
    homes: Collection[str] | None,
    *,
    unassigned: bool = False,
    site: str = "doorstep-hub",
) -> list[dict[str, Any]]:
    """The doors of ``homes`` (every door when None), and with ``unassigned`` those in no home."""
    found = devices_in(session, None)
    keep = [
        d
        for d in found
        if homes is None or d.home_id in homes or (unassigned and d.home_id is None)
    ]
    return [device_resource(d, site=site) for d in keep]
