"""What an escalating ring tells people: the notify request of each step (plain words,
safety) and the live ``escalation`` notice the family's ring card follows.

    notices.append(tell_notice(s, esc, key, ["<person id>"], "ring_escalated", False))
    bus.post(progress_notice(esc, "running", 1, "person"))
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from .bus import Notice
from .escalation_policy import ring_url
from .storage.homes import get_home
from .storage.models_care import RingEscalation


def progress_notice(esc: RingEscalation, status: str, step: int, kind: str) -> Notice:
    """The live "escalation" notice: ids and numbers only, never a name (the stream
    hands it to whoever may see the home's events; the page asks the API for the rest)."""
    return Notice(
        "escalation",
        esc.device_id,
        {
            "event_id": esc.event_id,
            "escalation": esc.id,
            "status": status,
            "step": step,
            "step_kind": kind,
            "steps_planned": len(esc.plan),
        },
        esc.home_id,
    )


def tell_notice(
    s: Session, esc: RingEscalation, key: str, to: list[str], kind: str, telecare: bool
) -> Notice:
    """The notify request of one step: who to tell, in plain words, safety (never held back)."""
    home = get_home(s, esc.home_id)
    at = esc.ring_at.astimezone(ZoneInfo(home.timezone))
    if kind == "ring_unanswered":
        title, body = (
            "Nobody answered the door",
            f"Nobody answered the doorbell at {home.name} ({at:%H:%M}).",
        )
    else:
        title = "Nobody has answered the door yet"
        body = (
            f"The doorbell at {home.name} rang at {at:%H:%M} and nobody has answered. Can you help?"
        )
    url = (
        f"/telecare?escalation={esc.id}"
        if telecare and kind != "ring_unanswered"
        else ring_url(esc.home_id, esc.event_id)
    )
    return Notice(
        "notify",
        esc.device_id,
        {
            "to": list(to),
            "message_kind": kind,
            "key": key,
            "title": title,
            "body": body,
            "url": url,
            "tag": f"ring:{esc.event_id}",
            # An unanswered ring at a vulnerable person's door is what quiet hours
            # must never hide from the people who agreed to be on its list.
            "safety": True,
            "extra": {"escalation": esc.id, "event_id": esc.event_id, "device": esc.device_id},
        },
        esc.home_id,
    )
