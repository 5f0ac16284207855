"""Malformed input: fuzzed MQTT messages of every kind into a running hub, and every API route.

MQTT: a compromised door (its own certificate, so the broker's ACL lets its messages through)
sends hypothesis-made messages on every topic kind of its own: valid examples with bits
flipped, fields replaced or dropped, random bytes, wrong content types. The hub must keep
ingesting (a valid event sent afterwards is stored) and count what it refused.

API: schemathesis over the app's own OpenAPI document against the web app served by uvicorn
(the approach and helpers of tests/web/test_openapi_fuzz.py): no session, a family member's
session, and that session with the path ids pinned to the member's real home and door.
"""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.storage.counters import ingest_counts
from protocol import DoorOpened, encode, utcnow
from protocol.codec import WireMessage, WireProperties, encode_signed
from protocol.examples import example_ack, example_key, example_messages
from protocol.mqtt import LinkSettings, MqttLink
from protocol.signing import sign
from protocol.topics import TopicKind, topic_for

from .figures import Figure, at_least, at_most, info
from .rig import Rig, wait_for

TITLE = "Malformed MQTT messages and fuzzed API requests"
SHORT = "400 MQTT messages (the API: tests/web/test_openapi_fuzz.py)"
FULL = "20,000 MQTT messages; schemathesis, 3 examples per route, mode and session"
BATCH = 20


def MQTT_TEXT(size: int) -> st.SearchStrategy[str]:
    """Strings MQTT allows (no control characters, no surrogates): Mosquitto cuts the sender
    for anything else, so those would test the broker, not the hub."""
    return st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=size)


def _valid(device: str) -> list[WireMessage]:
    out = [encode(m) for m in example_messages(device)]
    ack = sign(example_ack(device), example_key())
    out.append(encode_signed(TopicKind.ACK, device, ack))
    return out


@st.composite
def _message(draw: st.DrawFn, valid: list[WireMessage], topics: list[str]) -> WireMessage:
    wire = draw(st.sampled_from(valid))
    topic = draw(st.sampled_from([wire.topic, wire.topic, *topics]))
    props = wire.properties
    how = draw(st.sampled_from(["bits", "field", "bytes", "props", "huge"]))
    payload = wire.payload
    if how == "bits":
        data = bytearray(payload)
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, max(len(data) - 1, 0)))
            if data:
                data[at] ^= 1 << draw(st.integers(0, 7))
        payload = bytes(data)
    elif how == "field":
        try:
            body = json.loads(payload)
        except ValueError:
            body = {}
        if isinstance(body, dict) and body:
            key = draw(st.sampled_from(sorted(body)))
            if draw(st.booleans()):
                del body[key]
            else:
                body[key] = draw(
                    st.none() | st.integers(-(2**70), 2**70) | st.text(max_size=30)
                    | st.floats(allow_nan=False) | st.lists(st.integers(), max_size=3)
                )  # fmt: skip
        payload = json.dumps(body).encode()
    elif how == "bytes":
        payload = draw(st.binary(max_size=512))
    elif how == "props":
        props = WireProperties(
            content_type=draw(st.sampled_from(["", "image/jpeg", "application/json", "x" * 200])),
            user_properties=tuple(
                draw(st.lists(st.tuples(MQTT_TEXT(10), MQTT_TEXT(40)), max_size=3))
            ),
        )
    else:
        payload = (
            b"{" + b'"a":' * 1000 + b"1" + b"}" * 1000 if draw(st.booleans()) else b"9" * 900_000
        )
    return WireMessage(topic, payload, qos=1, retain=False, properties=props)


def _deliver(link: MqttLink, wire: WireMessage) -> None:
    """Publish and wait for the PUBACK; RuntimeError as soon as the broker cuts the link."""
    sending = link.publish(wire)
    deadline = time.monotonic() + 10
    while not sending.is_published():
        if not link.connected or time.monotonic() > deadline:
            raise RuntimeError("the broker cut the connection")
        time.sleep(0.002)


def fuzz_mqtt(count: int) -> list[Figure]:
    with Rig.start() as rig:
        hub = rig.hub
        assert hub is not None
        device = rig.devices[0]
        doors = [MqttLink(_settings(rig, device))]
        doors[0].start()
        valid = _valid(device)
        leaves = {TopicKind.EVENT: "ring", TopicKind.SNAPSHOT: "x1"}
        topics = [topic_for(k, device, leaves.get(k)) for k in TopicKind]
        topics.append(topic_for(TopicKind.EVENT, device, "made_up"))
        sent, cut = [0], [0]

        @settings(max_examples=max(1, count // BATCH), deadline=None, database=None,
                  derandomize=True, suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(st.lists(_message(valid, topics), min_size=BATCH, max_size=BATCH))
        def send(messages: list[WireMessage]) -> None:
            for wire in messages:
                sent[0] += 1
                try:
                    _deliver(doors[-1], wire)
                except (RuntimeError, ValueError):
                    # Mosquitto cut the connection: a protocol violation (e.g. a NUL in a
                    # user property) never reaches the hub. A new connection, because paho
                    # would send the same message again on reconnecting.
                    cut[0] += 1
                    doors[-1].stop()
                    doors.append(MqttLink(_settings(rig, device)))
                    doors[-1].start()

        send()
        # Still ingesting: a proper event after all that is stored.
        seq = 10**6
        good = DoorOpened(device=device, id="00000000-0000-4000-8000-00000000f00d", seq=seq,
                          boot_id="0123456789abcdef", at=utcnow(), monotonic_ms=1)  # fmt: skip
        doors[-1].publish(encode(good)).wait_for_publish(10)
        stored = True
        try:
            wait_for(lambda: any(r.seq == seq for r in rig.stored_events(device)), 60, "no event")
        except TimeoutError:
            stored = False
        alive = hub.ingest._worker.is_alive() and hub.link.connected
        doors[-1].stop()
        with rig.db.read_session() as s:
            counts = ingest_counts(s)
    refused = sum(n for (category, _r), n in counts.items() if category in {"malformed", "refused"})
    failed = {r: n for (category, r), n in counts.items() if category == "failed"}
    why = ", ".join(f"{r} {n}" for r, n in sorted(failed.items()))
    return [
        info("fuzzed MQTT messages sent (every topic kind)", sent[0]),
        at_most("hub ingest crashes (worker or link gone)", int(not alive), 0),
        at_least("valid event stored after the fuzzing", int(stored), 1),
        info("fuzzed messages the broker refused (cut the sender)", cut[0]),
        info("fuzzed messages the hub counted as refused", refused),
        info("fuzzed messages whose handler raised (counted)", f"{sum(failed.values())} {why}"),
    ]


def _settings(rig: Rig, device: str) -> LinkSettings:
    return LinkSettings(rig.broker.host, rig.broker.port, f"{device}-fuzz",
                        rig.deployment.device_tls(device), clean_start=True)  # fmt: skip


def run(full: bool) -> list[Figure]:
    figures = fuzz_mqtt(20_000 if full else 400)
    if not full:
        # Every route is already fuzzed in the normal run (tests/web/test_openapi_fuzz.py,
        # in-process); over real HTTP it takes minutes, so only the full run does it here.
        return figures
    from .s6_api import fuzz_api

    return figures + fuzz_api(3)
