"""Runs every conformance check against one device and returns the report.

The kit is a black-box tester: it speaks only the protocol (``protocol/``) over the
broker, as a hub would, and never looks inside the device. It never publishes
``sync`` or anything retained, so a running hub is not disturbed, except in the broker
restart mode (``outage``), which must run on a broker with no hub.

    >>> options = KitOptions(BrokerTarget("hub.local", 8883, tls), "door-1a2b3c",
    ...                      hub_key, device_public_key)              # doctest: +SKIP
    >>> report = run(options)                                         # doctest: +SKIP
    >>> report.passed                                                 # doctest: +SKIP
"""

from __future__ import annotations

import time

from protocol.base import utcnow
from protocol.codec import decode
from protocol.device import Telemetry
from protocol.errors import ProtocolError
from protocol.ids import check_device_id

from . import acks, checks, disruptive, outage
from .probes import CommandSigner, DeviceClock
from .report import Report
from .session import KitOptions, Session
from .traffic import Seen, Traffic, retained_kinds

__all__ = ["ORDER", "KitOptions", "run"]

# Report order, so every run reads the same way.
ORDER = (
    "presence.online", "presence.state", "presence.last_will", "presence.reconnect",
    "messages.schema", "events.sequence", "snapshots.format",
    "command.forged_signature", "command.unknown_key", "command.valid", "command.replay",
    "command.duplicate_id", "command.stale_counter", "command.expired", "command.stale_boot",
    "command.wrong_device", "command.valid_again", "command.v2", "command.refusals_inert",
    "acks.signed",
    "command.unlock", "outbox.broker_restart", "outbox.sync",
)  # fmt: skip


def run(options: KitOptions) -> Report:
    """Check one device; raises ``ConformanceSetupError`` only if the kit cannot start."""
    check_device_id(options.device_id)
    report = Report(device=options.device_id, broker=str(options.target))
    with Traffic(options.target, options.device_id, timeout=options.ack_timeout_s) as traffic:
        session = Session(options, traffic)
        seen = traffic.wait(lambda s: {"status", "state"} <= {m.kind for m in s}, options.settle_s)
        kept = retained_kinds(options.target, options.device_id, options.settle_s / 2)
        session.put(checks.presence(seen, kept))
        session.put(checks.retained_state(seen, kept))
        signer = _signer(options, seen)
        if signer is None:
            for name in ORDER:
                if name.startswith("command."):
                    session.skip(name, "the device is not online with a readable status")
        else:
            _commands(session, signer)
        if options.listen_s > 0:
            time.sleep(options.listen_s)  # someone may ring the bell, open the door, ...
        # Judge sequence numbers before the device is cut off: on reconnect it may rightly
        # re-send its whole unconfirmed outbox, which would muddle the order.
        before_will = traffic.snapshot()
        disruptive.last_will(session, signer.clock.boot_id if signer else None)
        outage.broker_restart(session, options.broker_control, options.event_source)
        everything = traffic.snapshot()
        session.put(checks.event_schema(everything))
        session.put(checks.sequence(before_will))
        session.put(checks.snapshots(everything, session.requested))
        session.put(checks.refusals_inert(everything, session.requested, session.refused))
        session.put(acks.ack_signatures(session.read_acks(everything)))
    report.extend([session.results[n] for n in ORDER if n in session.results])
    return report


def _signer(options: KitOptions, seen: list[Seen]) -> CommandSigner | None:
    """Estimate the device's boot and monotonic clock from status or telemetry."""
    status = checks.latest_status(seen)
    if status is None or not status.online:
        return None
    # The device's monotonic clock then, plus how long ago that was by the wall clocks;
    # the first verified ack replaces this rough estimate with the device's own reading.
    age_ms = max(int((utcnow() - status.since).total_seconds() * 1000), 0)
    clock = DeviceClock(status.boot_id, status.monotonic_ms + age_ms, time.monotonic())
    signer = CommandSigner(options.device_id, options.hub_key, clock)
    for m in reversed(seen):
        if m.kind != "telemetry":
            continue
        try:
            t = decode(m.topic, m.payload, m.properties).message
        except ProtocolError:
            continue
        if isinstance(t, Telemetry) and t.boot_id == status.boot_id:
            signer.clock = DeviceClock(t.boot_id, t.monotonic_ms, m.at)
            signer.note_accepted(t.command_counter)
        break
    return signer


def _commands(session: Session, signer: CommandSigner) -> None:
    # Signature probes first: a conforming device answers them without trusting anything,
    # and their acks tell the kit the device's counter and monotonic clock.
    session.probe(signer, signer.forged_signature())
    session.probe(signer, signer.unknown_key())
    valid = session.valid(signer, "command.valid")
    if valid is None:
        for name in ("command.replay", "command.duplicate_id", "command.stale_counter"):
            session.skip(name, "the valid command was not executed, so a refusal proves nothing")
    else:
        session.probe(signer, signer.replay(valid))
        session.probe(signer, signer.duplicate_id(valid))
        session.probe(signer, signer.stale_counter())
    session.probe(signer, signer.expired())
    session.probe(signer, signer.stale_boot())
    session.probe(signer, signer.wrong_device())
    session.valid(signer, "command.valid_again")
    session.version_two(signer)
    session.wait_for_snapshots()
    disruptive.unlock(session, signer)
