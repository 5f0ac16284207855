"""The MQTT floor: the bare QoS 1 round trip (publish -> own subscriber receives)
through private Mosquitto brokers, plain and mutual-TLS, for small and large payloads.

Other benchmarks call ``measure_floor`` in the same run and report their figures as
multiples of it, so a slow machine does not look like slow code.

    >>> floor = measure_floor(trials=500)                           # doctest: +SKIP
    >>> floor["results"]["mtls"]["64B"]["p50_ms"]                     # doctest: +SKIP
    0.27
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from firmware_config.broker_config import apply, broker_settings, mtls_config
from firmware_config.deployment import Deployment
from firmware_config.mosquitto import (
    BrokerLayout,
    BrokerSettings,
    MosquittoProcess,
    find_mosquitto,
    free_port,
    plain_config,
)
from protocol.codec import WireMessage, WireProperties
from protocol.mqtt import LinkSettings, MqttLink
from protocol.topics import TopicKind, topic_for

SIZES = {"64B": 64, "60KB": 60 * 1024}
BINARY = WireProperties(content_type="application/octet-stream")


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    q = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {
        "p50_ms": round(q[49], 4),
        "p95_ms": round(q[94], 4),
        "p99_ms": round(q[98], 4),
        "mean_ms": round(statistics.fmean(samples_ms), 4),
        "max_ms": round(max(samples_ms), 4),
    }


def round_trips(link: MqttLink, topic: str, size: int, trials: int, warmup: int) -> list[float]:
    """Milliseconds from ``publish`` to our own subscription handing the message back."""
    arrived = threading.Event()
    link.subscribe(topic, lambda _t, _p, _props: arrived.set(), qos=1)
    time.sleep(0.2)  # let the SUBACK land before the first trial
    payload = bytes(size)
    wire = WireMessage(topic=topic, payload=payload, qos=1, retain=False, properties=BINARY)
    samples = []
    for i in range(warmup + trials):
        arrived.clear()
        start = time.perf_counter()
        link.publish(wire)
        if not arrived.wait(5):
            raise TimeoutError(f"trial {i}: no message back on {topic} within 5 s")
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def _config(text: str, autosave: bool) -> str:
    """The generated configuration, optionally without save-on-every-change (for comparison)."""
    if autosave:
        return text
    return "".join(line for line in text.splitlines(True) if not line.startswith("autosave_"))


@contextmanager
def _plain_broker(autosave: bool = True) -> Iterator[tuple[MosquittoProcess, LinkSettings]]:
    root = Path(tempfile.mkdtemp(prefix="doorstep-floor-plain-"))
    settings = BrokerSettings(layout=BrokerLayout(root), port=free_port())
    broker = MosquittoProcess(settings, _config(plain_config(settings), autosave)).start()
    try:
        yield broker, LinkSettings(host=broker.host, port=broker.port, client_id="floor-plain",
                                   clean_start=True)  # fmt: skip
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _mtls_broker(autosave: bool = True) -> Iterator[tuple[MosquittoProcess, LinkSettings]]:
    root = Path(tempfile.mkdtemp(prefix="doorstep-floor-mtls-"))
    root.chmod(0o711)  # Mosquitto runs as user 'mosquitto' and must reach deploy/mosquitto
    try:
        dep = Deployment.init(root / "deploy")
        settings = broker_settings(dep, port=free_port())
        apply(dep, settings)
        broker = MosquittoProcess(settings, _config(mtls_config(settings), autosave)).start()
        try:
            yield broker, LinkSettings(host=broker.host, port=broker.port, client_id="floor-mtls",
                                       clean_start=True, tls=dep.service_tls())  # fmt: skip
        finally:
            broker.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def mosquitto_version() -> str:
    out = subprocess.run([find_mosquitto(), "-h"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].removeprefix("mosquitto version ").strip() if first else "unknown"


def measure_floor(
    trials: int = 500,
    warmup: int = 50,
    sizes: dict[str, int] | None = None,
    *,
    autosave: bool = True,
) -> dict[str, object]:
    """p50/p95/p99 of the QoS 1 round trip, plain and mutual-TLS, per payload size.

    Brokers run the project's generated configuration; ``autosave=False`` drops its
    save-on-every-change persistence to show what that costs.
    """
    sizes = sizes or SIZES
    # The hub may read back the sync topic it writes: a topic one client may use both ways.
    topic = topic_for(TopicKind.SYNC, "door-f100r00000")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, broker_cm in (("plain", _plain_broker), ("mtls", _mtls_broker)):
        with broker_cm(autosave) as (_broker, link_settings):
            link = MqttLink(link_settings)
            link.start()
            try:
                results[name] = {
                    label: percentiles(round_trips(link, topic, size, trials, warmup))
                    for label, size in sizes.items()
                }
            finally:
                link.stop()
    return {
        "benchmark": "mqtt_floor",
        "what": "QoS 1 publish -> same client's subscription receives it, loopback, TCP_NODELAY",
        "mosquitto": mosquitto_version(),
        "trials": trials,
        "warmup": warmup,
        "autosave_on_changes": autosave,
        "results": results,
    }
