"""A deliberately faulty device fails the kit with readable reasons; without faults it passes.

Each fault breaks one rule of docs/protocol.md, and the kit must fail exactly the checks
that rule covers, and no others.
"""

from __future__ import annotations

import pytest

from doorstep.cli import main
from doorstep.conformance import Status, render_text, run
from protocol.signing import private_key_pem, public_key_pem
from tests.conformance.fake_device import FakeDevice, Faults

COMMANDS = {
    "command.forged_signature", "command.unknown_key", "command.valid", "command.replay",
    "command.duplicate_id", "command.stale_counter", "command.expired", "command.stale_boot",
    "command.wrong_device", "command.valid_again", "command.v2",
}  # fmt: skip


def _failed(report) -> dict[str, str]:
    return {c.name: c.reason for c in report.checks if c.status is Status.FAIL}


def test_fake_device_without_faults_conforms(plain_broker, hub_key, kit_options):
    with FakeDevice(plain_broker.host, plain_broker.port, hub_key.public_key()) as dev:
        report = run(kit_options(dev.device_id, hub_key, dev.public_key, provoke_will=True))
    assert report.passed, render_text(report)
    not_checked = {c.name for c in report.checks if c.status is Status.NOT_CHECKED}
    # the unlock and the broker restart each need their own flag (test_broker_restart.py)
    assert not_checked == {"command.unlock", "outbox.broker_restart", "outbox.sync"}, render_text(
        report
    )


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (
            Faults(accept_replays=True),
            {
                "command.replay": "accepted the valid command sent again byte for byte: it must "
                "be rejected with counter_replayed or duplicate_id",
                "command.duplicate_id": "accepted a new counter but an id already used",
                "command.stale_counter": "accepted a new id with counter",
                "command.refusals_inert": "the device acted on 3 command(s) it had to refuse",
            },
        ),
        (
            Faults(skip_seq=True),
            {"events.sequence": "seq jumped from 2 to 4"},
        ),
        (
            Faults(oversized_snapshot=True),
            {"snapshots.format": "limit 1048576"},
        ),
        (
            Faults(unsigned_acks=True),
            {
                "acks.signed": "11 of 11 acknowledgements do not verify with the device key: "
                "acknowledgement is not a signed envelope",
                "messages.schema": "11 of 13 messages refused: doorstep/v1/",
            }
            | {name: "acknowledgement is not a signed envelope" for name in COMMANDS},
        ),
        (
            Faults(acks_in_v1=True),
            {"command.v2": "a v: 2 command answered with a v: 1 acknowledgement"},
        ),
        (
            # The fault this check exists for: v2 answers to a hub that sent v1.
            Faults(acks_in_v2=True),
            {
                name: "a v: 1 command answered with a v: 2 acknowledgement"
                for name in COMMANDS - {"command.v2"}
            },
        ),
    ],
    ids=[
        "accepts-replays",
        "skips-seq",
        "oversized-snapshot",
        "unsigned-acks",
        "acks-v2-in-v1",
        "acks-v1-in-v2",
    ],
)
def test_each_fault_fails_exactly_its_checks(plain_broker, hub_key, kit_options, faults, expected):
    with FakeDevice(plain_broker.host, plain_broker.port, hub_key.public_key(), faults) as dev:
        report = run(kit_options(dev.device_id, hub_key, dev.public_key))
    failed = _failed(report)
    text = render_text(report)
    assert set(failed) == set(expected), text
    for name, words in expected.items():
        assert words in failed[name], text


def test_a_device_that_speaks_only_v1_conforms(plain_broker, hub_key, kit_options):
    """Yesterday's device: reads v1 commands only and answers in v1; it refuses v2."""
    with FakeDevice(plain_broker.host, plain_broker.port, hub_key.public_key(), speaks=1) as dev:
        report = run(kit_options(dev.device_id, hub_key, dev.public_key))
    text = render_text(report)
    assert report.passed, text
    v2 = report.by_name()["command.v2"]
    assert v2.status is Status.PASS, text
    assert "speaks v1 only" in v2.reason
    assert "unsupported" in v2.reason


def test_a_v2_device_is_told_apart_from_a_v1_one(plain_broker, hub_key, kit_options):
    with FakeDevice(plain_broker.host, plain_broker.port, hub_key.public_key()) as dev:
        report = run(kit_options(dev.device_id, hub_key, dev.public_key))
    v2 = report.by_name()["command.v2"]
    assert v2.status is Status.PASS, render_text(report)
    assert "executed, answered in v: 2" in v2.reason


def test_a_device_claiming_v2_but_refusing_it_fails(plain_broker, hub_key, kit_options):
    faults = Faults(claims="2")
    with FakeDevice(
        plain_broker.host, plain_broker.port, hub_key.public_key(), faults, speaks=1
    ) as dev:
        report = run(kit_options(dev.device_id, hub_key, dev.public_key))
    failed = _failed(report)
    assert set(failed) == {"command.v2"}, render_text(report)
    assert "telemetry says protocol_version 2" in failed["command.v2"]


def test_device_without_a_last_will_fails_presence(plain_broker, hub_key, kit_options):
    faults = Faults(no_will=True)
    with FakeDevice(plain_broker.host, plain_broker.port, hub_key.public_key(), faults) as dev:
        options = kit_options(
            dev.device_id, hub_key, dev.public_key, provoke_will=True, will_timeout_s=2.0
        )
        report = run(options)
    failed = _failed(report)
    assert set(failed) == {"presence.last_will"}, render_text(report)
    assert "register a retained last will" in failed["presence.last_will"]


def test_cli_prints_readable_reasons_and_exits_one(plain_broker, hub_key, tmp_path, capsys):
    (tmp_path / "hub.key").write_bytes(private_key_pem(hub_key))
    faults = Faults(accept_replays=True, skip_seq=True)
    with FakeDevice(plain_broker.host, plain_broker.port, hub_key.public_key(), faults) as dev:
        (tmp_path / "device.pub").write_bytes(public_key_pem(dev.public_key))
        code = main([
            "conformance", "--broker", f"{plain_broker.host}:{plain_broker.port}",
            "--device", dev.device_id, "--hub-key", str(tmp_path / "hub.key"),
            "--device-key", str(tmp_path / "device.pub"), "--ack-timeout", "2",
        ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    lines = out.splitlines()
    assert any(line.startswith("FAIL") and "command.replay" in line for line in lines), out
    assert any(line.startswith("FAIL") and "events.sequence" in line for line in lines), out
    assert any(line.startswith("NOT CHECKED") and "presence.last_will" in line for line in lines)
    assert lines[-1].startswith("DOES NOT CONFORM: ")


def test_cli_names_a_missing_key_file_and_exits_two(plain_broker, tmp_path, capsys):
    code = main([
        "conformance", "--broker", f"{plain_broker.host}:{plain_broker.port}",
        "--device", "door-1a2b3c", "--hub-key", str(tmp_path / "nope.key"),
        "--device-key", str(tmp_path / "nope.pub"),
    ])  # fmt: skip
    assert code == 2
    assert "hub signing key" in capsys.readouterr().err
