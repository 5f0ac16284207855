"""Sending a door command from a route: the hub's refusals as plain HTTP answers.

The hub's command service authorises, signs, sends and audits; this only maps its
errors. A 5xx is never used for a door's state: it would invite automatic retries.

    return send_command(hub, device, "live_view", person_id=person, duration_s=30)
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status

from hub.commands import DeviceUnavailable, RateLimited
from hub.errors import NotFound
from hub.policy import NotAuthorised
from hub.service import Hub


def send_command(
    hub: Hub, device: str, action: str, *, person_id: str, **params: Any
) -> dict[str, str]:
    try:
        ticket = hub.commands.request(device, action, person_id=person_id, **params)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no door {device!r}") from None
    except NotAuthorised as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except DeviceUnavailable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except RateLimited as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    return {"command_id": ticket.id, "status": ticket.status}
