"""The reference edge agent, on the simulated board, passes the conformance kit."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from doorstep.cli import main
from doorstep.conformance import Status, render_text, run
from doorstep.conformance.runner import ORDER
from protocol.signing import private_key_pem, public_key_pem


def test_edge_agent_passes_every_check(edge_rig, kit_options):
    rig = edge_rig
    options = kit_options(
        rig.device_id,
        rig.hub_key,
        rig.device_key.public_key(),
        allow_unlock=True,
        provoke_will=True,
    )
    report = run(options)
    text = render_text(report)
    assert report.passed, text
    results = report.by_name()
    assert list(results) == list(ORDER), text
    # the broker restart needs a broker of the test's own: test_broker_restart.py
    not_passed = [c.name for c in report.checks if c.status is not Status.PASS]
    assert not_passed == ["outbox.broker_restart", "outbox.sync"], text
    assert "counter_replayed" in results["command.replay"].reason
    assert "same boot id" in results["presence.last_will"].reason
    # The one valid unlock opened the door, and it locked itself again.
    assert "unlock" in results["command.unlock"].reason
    assert not rig.board.relay_energised


def test_cli_reports_json_and_exit_zero_for_the_edge_agent(
    edge_rig, plain_broker, tmp_path, capsys
):
    rig = edge_rig
    (tmp_path / "hub.key").write_bytes(private_key_pem(rig.hub_key))
    (tmp_path / "device.pub").write_bytes(public_key_pem(rig.device_key.public_key()))
    code = main([
        "conformance", "--broker", f"{plain_broker.host}:{plain_broker.port}",
        "--device", rig.device_id, "--hub-key", str(tmp_path / "hub.key"),
        "--device-key", str(tmp_path / "device.pub"), "--ack-timeout", "2", "--json",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    doc = json.loads(out)
    statuses = {c["name"]: c["status"] for c in doc["checks"]}
    assert statuses["command.forged_signature"] == "PASS"
    assert statuses["presence.last_will"] == "NOT CHECKED"
    assert statuses["command.unlock"] == "NOT CHECKED"
    assert "FAIL" not in statuses.values()


def test_the_wrong_device_key_makes_every_ack_fail(edge_rig, kit_options):
    rig = edge_rig
    stranger = Ed25519PrivateKey.generate().public_key()
    report = run(kit_options(rig.device_id, rig.hub_key, stranger))
    results = report.by_name()
    assert not report.passed
    assert results["acks.signed"].status is Status.FAIL
    assert "does not verify" in results["acks.signed"].reason or "pinned key" in (
        results["acks.signed"].reason
    )
