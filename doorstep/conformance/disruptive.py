"""The checks that disturb the device, each behind its own flag: a real unlock
(``--allow-unlock``) and cutting its connection to see the last will (``--provoke-will``).

    >>> unlock(session, signer)      # one valid unlock, then the re-lock  # doctest: +SKIP
    >>> last_will(session, boot_id)    # take over the client id, expect offline, then online
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import checks
from .probes import CommandSigner
from .report import Status
from .session import Session
from .traffic import Seen, take_over


def unlock(session: Session, signer: CommandSigner) -> None:
    if not session.options.allow_unlock:
        session.skip("command.unlock", "pass --allow-unlock to let the kit open the door once")
        return
    start = len(session.traffic.snapshot())
    if session.valid(signer, "command.unlock", unlock=True) is None:
        return

    def relocked(seen: list[Seen]) -> bool:
        return any(
            m.kind == "event"
            and m.topic.endswith("/lock_changed")
            and checks.loose_json(m.payload).get("state") == "engaged"
            for m in seen[start:]
        )

    if not relocked(session.traffic.wait(relocked, 1.0 + session.options.will_timeout_s)):
        session.note(
            "command.unlock",
            Status.FAIL,
            "unlock executed but no lock_changed to engaged followed: the door must re-lock",
        )


def _status_is(online: bool, since: int) -> Callable[[list[Seen]], bool]:
    def check(seen: list[Seen]) -> bool:
        return any(
            m.kind == "status" and checks.loose_json(m.payload).get("online") is online
            for m in seen[since:]
        )

    return check


def last_will(session: Session, boot_id: str | None) -> None:
    """Take over the device's client id; the broker must publish its will, then it returns."""
    if not session.options.provoke_will:
        why = "pass --provoke-will to let the kit cut the device off (takes over its client id)"
        session.skip("presence.last_will", why)
        session.skip("presence.reconnect", why)
        return
    traffic, timeout = session.traffic, session.options.will_timeout_s
    start = len(traffic.snapshot())
    took_at = time.monotonic()
    take_over(
        session.options.target,
        session.options.device_id,
        lambda: traffic.wait(_status_is(False, start), timeout),
        timeout,
    )
    seen = traffic.snapshot()
    offline = [
        m
        for m in seen[start:]
        if m.kind == "status" and checks.loose_json(m.payload).get("online") is False
    ]
    if not offline:
        session.note(
            "presence.last_will",
            Status.FAIL,
            f"no offline status within {timeout:g} s after the device's connection dropped: "
            "register a retained last will (online: false) on the status topic",
        )
    else:
        will_boot = checks.loose_json(offline[0].payload).get("boot_id")
        ok = will_boot == boot_id
        session.note(
            "presence.last_will",
            Status.PASS if ok else Status.FAIL,
            "broker published the last will (offline) "
            + (
                "with the same boot id"
                if ok
                else f"but with boot id {will_boot!r}, not {boot_id!r}"
            )
            + " when the device's connection dropped",
        )
    # The device may be back before the kit lets go (it takes its client id back).
    back_from = seen.index(offline[0]) + 1 if offline else start
    if _status_is(True, back_from)(traffic.wait(_status_is(True, back_from), timeout)):
        session.note(
            "presence.reconnect",
            Status.PASS,
            f"device came back online {time.monotonic() - took_at:.1f} s after being cut off",
        )
    else:
        session.note(
            "presence.reconnect",
            Status.FAIL,
            f"no online status within {timeout:g} s of losing the connection: reconnect and "
            "publish status online on every connect",
        )
