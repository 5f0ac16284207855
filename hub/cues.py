"""Indoor cues: tell the person at home that a carer is at the door (or the door opens).

A cue is a signed ``cue`` command through the normal command path, audited like any
other; the door shows an indicator pattern and runs its announcement command. A
cue is a courtesy: a door that is offline is skipped (logged), never an error for
the caller. Doors cue ``family_unlocked`` themselves on every remote unlock.

    send_cue(hub, home_id, "carer_at_door", who="Sam", person_id=carer)   # -> command ids
    send_cue(hub, "door-1a2b3c", CueKind.FAMILY_UNLOCKED)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from protocol.commands import CueKind

from .audit import service_ref
from .commands import CommandError
from .errors import NotFound
from .storage.devices import find_device, list_devices

if TYPE_CHECKING:
    from .service import Hub

log = logging.getLogger(__name__)

SERVICE = service_ref("cues")


def send_cue(
    hub: Hub,
    target: str,
    cue: CueKind | str,
    *,
    who: str | None = None,
    person_id: str | None = None,
) -> list[str]:
    """Cue every active door of home ``target`` (or the door ``target``); the ids sent.

    ``person_id`` is whose action caused the cue (e.g. the carer who checked in); it is
    the actor in the audit log, otherwise the hub's cue service is.
    """
    cue = CueKind(cue)
    name = (who or "").split()[0][:80] if (who or "").strip() else None
    sent: list[str] = []
    for device in _doors(hub, target):

        def allowed(_s: Any, _device: Any) -> dict[str, Any]:
            # Whoever calls this was authorised for what caused the cue (a check-in...).
            return {"cue": cue.value}

        try:
            ticket = hub.commands.request(
                device,
                "cue",
                person_id=person_id or SERVICE,
                authorise=allowed,
                cue=cue,
                who=name,
            )
        except (CommandError, NotFound) as exc:
            log.info("no %s cue for door %s: %s", cue.value, device, exc)
            continue
        sent.append(ticket.id)
    return sent


def _doors(hub: Hub, target: str) -> list[str]:
    with hub.db.read_session() as s:
        device = find_device(s, target)
        if device is not None:
            return [] if device.revoked_at is not None else [device.id]
        return [d.id for d in list_devices(s, home_id=target)]
