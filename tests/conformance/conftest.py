"""Fixtures for the conformance kit: the real edge agent, and the kit's options for a device."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from doorstep.conformance import BrokerTarget, KitOptions
from tests.edge.rig import Rig

# Short waits: every device here answers in milliseconds, and a missing answer must
# cost little. Cutting a device off waits for its reconnect (paho backs off ~1 s).
FAST = {"ack_timeout_s": 2.0, "settle_s": 2.0, "will_timeout_s": 8.0}


@pytest.fixture
def edge_rig(plain_broker: Any, tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(plain_broker, tmp_path).start()
    yield rig
    rig.stop()


@pytest.fixture
def hub_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def kit_options(plain_broker: Any) -> Callable[..., KitOptions]:
    def make(device_id: str, hub_key: Any, device_key: Any, **kw: Any) -> KitOptions:
        target = BrokerTarget(plain_broker.host, plain_broker.port)
        return KitOptions(target, device_id, hub_key, device_key, **{**FAST, **kw})

    return make
