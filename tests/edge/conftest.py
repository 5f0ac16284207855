"""The edge tests' usual rig: an agent on the simulated board, its lock engaged at boot."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from protocol import LockChanged
from tests.edge.rig import Rig


@pytest.fixture
def rig(plain_broker):
    """Started, and past its boot: the lock's first report has been seen."""
    r = Rig(plain_broker, Path(tempfile.mkdtemp(prefix="doorstep-edge-"))).start()
    r.view.wait(lambda ms: any(isinstance(m, LockChanged) for m in ms))
    yield r
    r.stop()
