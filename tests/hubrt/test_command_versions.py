"""The hub speaks to each door in the schema version the door reported.

A door that reported ``protocol_version`` 2 in its telemetry gets v2 commands and answers
in v2, saying when it re-locks; a door that reported 1, or nothing, gets v1 commands and
answers in v1, which the hub accepts just the same. Real broker, real edge agent.
"""

from __future__ import annotations

import json

import pytest

from hub.storage import get_command
from hub.storage.devices import get_device
from protocol.signing import SignedEnvelope
from protocol.topics import PREFIX
from tests.fixtures.broker import DecodedMessages
from tests.hubrt.rig import HubRig


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker).start()
    yield r
    r.stop()




def _watch_commands(rig: HubRig, device: str) -> DecodedMessages:
    got = DecodedMessages()
    link = rig.device_link(device, will=False)
    link.subscribe(f"{PREFIX}/{device}/cmd", got)
    assert link.wait_subscribed()
    return got


@pytest.mark.parametrize(
    ("reported", "version"),
    [(None, 1), ("1", 1), ("2", 2)],
    ids=["reported-nothing", "reported-1", "reported-2"],
)
def test_commands_and_answers_in_the_version_the_door_reported(rig, reported, version):
    device = rig.add_device()
    rig.agent(device, hold_s=0.3)
    rig.wait_online(device)
    with rig.db.session() as s:
        door = get_device(s, device)
        assert door.protocol_version == "2", "the reference agent reports that it speaks v2"
        door.protocol_version = reported  # as an older door (or one that never said) would
    sent = _watch_commands(rig, device)
    notices = rig.hub.bus.subscribe()
    ticket = rig.hub.commands.request(device, "unlock", person_id=rig.family, hold_s=0.3)
    assert rig.hub.commands.wait(ticket.id, timeout=5) == "acknowledged"

    (envelope,) = sent.wait(lambda ms: len(ms) >= 1, timeout=5)
    assert isinstance(envelope, SignedEnvelope)
    assert json.loads(envelope.payload)["v"] == version
    with rig.db.read_session() as s:
        answer = json.loads(get_command(s, ticket.id).ack_payload or "{}")
    assert answer["v"] == version, "the door answers in the version of the command"
    assert ("relock_in_s" in answer) == (version == 2)
    assert answer.get("relock_in_s") == (0.3 if version == 2 else None)

    acknowledged = None
    while (notice := notices.get(timeout=5)) is not None:
        if notice.kind == "command" and notice.data.get("status") == "acknowledged":
            acknowledged = notice
            break
    assert acknowledged is not None
    assert acknowledged.data["relock_in_s"] == (0.3 if version == 2 else None)
