"""Reconnect storm: a fleet of doors reconnects after the broker restarts.

Each simulated door is a small asyncio MQTT v5 client (one process holds them all; a paho
client per door would be a thread per door): it connects, says "online" (retained, QoS 1,
as a door does), and when the connection drops it reconnects with the same backoff as
the real doors' link (protocol/mqtt.py: from 1 s doubling to at most 30 s, half of each
delay random: "equal jitter"). The broker (the project's generated plain configuration) is
stopped for a few seconds and started again on the same port; the figure is how long after
it listens again every door is back and has had its "online" acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import struct
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from firmware_config.mosquitto import (
    BrokerLayout,
    BrokerSettings,
    MosquittoProcess,
    free_port,
    plain_config,
)

from .figures import Figure, at_least, at_most, info

TITLE = "Reconnect storm after a broker restart"
SHORT = "200 doors, broker down 2 s"
FULL = "1,000 doors, broker down 5 s"
BOUND_S = 35.0  # the longest backoff (30 s) plus time to connect under load
RECONNECT_MIN_S, RECONNECT_MAX_S = 1.0, 30.0  # LinkSettings' defaults


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(s: str) -> bytes:
    data = s.encode()
    return struct.pack("!H", len(data)) + data


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _varint(len(body)) + body


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    kind = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return kind, await reader.readexactly(length)


class Door:
    def __init__(self, name: str, port: int, rng: random.Random) -> None:
        self.name = name
        self.port = port
        self.rng = rng
        self.attempt = 0
        self.back_at: float | None = None  # when its "online" was acknowledged
        self.sessions = 0

    def delay(self) -> float:
        ceiling = min(RECONNECT_MAX_S, RECONNECT_MIN_S * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 30)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
                await self.session(stop)
            if not stop.is_set():
                await asyncio.sleep(self.delay())

    async def session(self, stop: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            # CONNECT: MQTT 5, clean start, keepalive 30 s, no properties, client id.
            body = _string("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 30) + b"\x00"
            writer.write(_packet(0x10, body + _string(self.name)))
            await writer.drain()
            kind, ack = await _read_packet(reader)
            if kind != 0x20 or ack[1] != 0:
                raise ConnectionError(f"refused: {ack!r}")
            self.attempt = 0
            topic = f"doorstep/v1/{self.name}/status"
            publish = _string(topic) + struct.pack("!H", 1) + b"\x00" + b'{"online":true}'
            writer.write(_packet(0x33, publish))  # QoS 1, retained
            await writer.drain()
            kind, _ = await _read_packet(reader)
            if kind != 0x40:
                raise ConnectionError("no PUBACK")
            self.sessions += 1
            self.back_at = time.monotonic()
            while not stop.is_set():
                try:
                    await asyncio.wait_for(_read_packet(reader), timeout=15)
                except TimeoutError:
                    writer.write(b"\xc0\x00")  # PINGREQ
                    await writer.drain()
        finally:
            writer.close()


async def _storm(broker: MosquittoProcess, count: int, down_s: float) -> tuple[int, float, float]:
    rng = random.Random(7)
    doors = [Door(f"door-s{i:08d}", broker.port, random.Random(rng.random())) for i in range(count)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(d.run(stop)) for d in doors]
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    while sum(d.sessions > 0 for d in doors) < count:
        if time.monotonic() - start > 120:
            raise TimeoutError("the fleet did not connect the first time")
        await asyncio.sleep(0.1)
    await loop.run_in_executor(None, broker.stop)
    await asyncio.sleep(down_s)
    await loop.run_in_executor(None, broker.start)
    up = time.monotonic()
    while time.monotonic() - up < BOUND_S + 30:
        if all(d.sessions > 1 for d in doors):
            break
        await asyncio.sleep(0.05)
    back = sorted(d.back_at - up for d in doors if d.sessions > 1 and d.back_at is not None)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return len(back), (back[-1] if back else float("inf")), (back[len(back) // 2] if back else 0)


def run(full: bool) -> list[Figure]:
    count, down_s = (1000, 5.0) if full else (200, 2.0)
    root = Path(tempfile.mkdtemp(prefix="doorstep-reliability-storm-"))
    root.chmod(0o711)
    settings = BrokerSettings(layout=BrokerLayout(root), port=free_port())
    broker = MosquittoProcess(settings, plain_config(settings)).start()
    try:
        # Its own thread: under pytest another library may already run an event loop
        # in this one, and asyncio.run() refuses to nest.
        with ThreadPoolExecutor(1, thread_name_prefix="storm") as pool:
            back, slowest, median = pool.submit(asyncio.run, _storm(broker, count, down_s)).result()
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
    return [
        info("doors", count),
        info("broker down for", down_s, "s"),
        at_least("doors back online after the restart", back, count, f"of {count}"),
        at_most("slowest door back (after the broker listens)", round(slowest, 2), BOUND_S, "s"),
        info("median door back", round(median, 2), "s"),
    ]
