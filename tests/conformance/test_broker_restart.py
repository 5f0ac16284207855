"""Outbox behaviour across a broker restart: the kit stops and starts a broker of the test's
own while the device makes events; the real edge agent loses nothing, a device that drops
events while offline fails with a readable reason."""

from __future__ import annotations

from typing import Any

import pytest

from doorstep.cli import main
from doorstep.conformance import BrokerTarget, KitOptions, Status, render_text, run
from doorstep.conformance.runner import ORDER
from tests.conformance.conftest import FAST
from tests.conformance.fake_device import FakeDevice, Faults
from tests.edge.rig import Rig

# Reconnecting backs off exponentially (1, 2, 4, 8, 16 s ... with jitter): on a loaded
# machine a door may need its 16 s retry. A passing device is seen as soon as it is back.
RESTART = {"outage_s": 1.0, "outage_events": 3, "restart_timeout_s": 45.0}


def _options(broker: Any, device_id: str, hub_key: Any, device_key: Any, **kw: Any) -> KitOptions:
    target = BrokerTarget(broker.host, broker.port)
    return KitOptions(target, device_id, hub_key, device_key, **{**FAST, **RESTART, **kw})


@pytest.fixture
def restart_rig(fresh_broker: Any, tmp_path: Any):
    rig = Rig(fresh_broker, tmp_path).start()
    yield rig
    rig.stop()


def test_edge_agent_passes_every_check_including_a_broker_restart(restart_rig, fresh_broker):
    rig = restart_rig

    def door() -> None:  # someone goes out and shuts the door: two events
        rig.board.open_door()
        rig.board.close_door()

    options = _options(
        fresh_broker,
        rig.device_id,
        rig.hub_key,
        rig.device_key.public_key(),
        broker_control=fresh_broker,
        event_source=door,
        allow_unlock=True,
        provoke_will=True,
    )
    report = run(options)
    text = render_text(report)
    results = report.by_name()
    assert list(results) == list(ORDER), text
    assert [c.name for c in report.checks if c.status is not Status.PASS] == [], text
    # 3 x 2 door events while the broker was down, 2 more once it was back
    restart = results["outbox.broker_restart"].reason
    assert "8 events made around a broker restart arrived" in restart
    assert "nothing confirmed was re-sent" in results["outbox.sync"].reason
    assert "rejected (wrong_device)" in results["command.wrong_device"].reason


def test_fake_device_with_an_outbox_passes_the_restart(fresh_broker, hub_key):
    with FakeDevice(fresh_broker.host, fresh_broker.port, hub_key.public_key()) as dev:
        options = _options(
            fresh_broker, dev.device_id, hub_key, dev.public_key,
            broker_control=fresh_broker, event_source=dev.ring,
        )  # fmt: skip
        report = run(options)
    assert report.passed, render_text(report)
    assert report.by_name()["outbox.broker_restart"].status is Status.PASS


def test_a_device_that_drops_events_while_offline_fails_with_a_reason(fresh_broker, hub_key):
    faults = Faults(drop_offline=True)
    with FakeDevice(fresh_broker.host, fresh_broker.port, hub_key.public_key(), faults) as dev:
        options = _options(
            fresh_broker, dev.device_id, hub_key, dev.public_key,
            broker_control=fresh_broker, event_source=dev.ring, restart_timeout_s=6.0,
        )  # fmt: skip
        report = run(options)
    failed = {c.name: c.reason for c in report.checks if c.status is Status.FAIL}
    text = render_text(report)
    assert set(failed) == {"outbox.broker_restart"}, text
    reason = failed["outbox.broker_restart"]
    # snapshots 1-3 from the kit's valid probes (valid, valid_again, v2), rings 4-6 dropped
    # offline, ring 7 after the restart
    assert "seq 4, 5, 6 never arrived: 3 event(s) made while the broker was down" in reason
    assert "durable outbox" in reason
    assert report.by_name()["outbox.sync"].status is Status.PASS


def test_a_null_id_for_a_readable_wrong_device_command_fails(plain_broker, hub_key, kit_options):
    faults = Faults(null_wrong_device_id=True)
    with FakeDevice(plain_broker.host, plain_broker.port, hub_key.public_key(), faults) as dev:
        report = run(kit_options(dev.device_id, hub_key, dev.public_key))
    failed = {c.name: c.reason for c in report.checks if c.status is Status.FAIL}
    assert set(failed) == {"command.wrong_device"}, render_text(report)
    assert "answered with command_id null, but its id" in failed["command.wrong_device"]


def test_cli_wants_all_three_restart_commands(plain_broker, tmp_path, capsys):
    code = main([
        "conformance", "--broker", f"{plain_broker.host}:{plain_broker.port}",
        "--device", "door-1a2b3c", "--hub-key", str(tmp_path / "h.key"),
        "--device-key", str(tmp_path / "d.pub"), "--broker-stop-cmd", "true",
    ])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "missing: --broker-start-cmd, --event-cmd" in err


def test_a_failing_restart_command_is_named():
    from doorstep.conformance.errors import ConformanceSetupError
    from doorstep.conformance.outage import ShellCommands

    with pytest.raises(ConformanceSetupError, match="--broker-stop-cmd 'false' exited 1"):
        ShellCommands(stop_cmd="false").stop()
    ShellCommands(event_cmd="true").event()  # a command that works just runs
