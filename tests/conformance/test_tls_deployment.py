"""End to end as a vendor would run it: a provisioned deployment, a mutual-TLS broker with
the per-device ACL, the edge agent from its bundle, and the kit as the hub's identity."""

from __future__ import annotations

import json

import pytest

from doorstep.cli import main
from edge.runner import build_agent
from tests.fixtures.tls_broker import start_tls_broker


@pytest.mark.timeout(60)
def test_kit_over_mutual_tls_with_a_deployment_folder(capsys):
    with start_tls_broker(devices=1) as broker:
        device = broker.devices[0]
        built = build_agent(broker.device_config(device), simulate=True)
        built.agent.start()
        try:
            assert built.agent.link.wait_connected(10), "agent did not connect over TLS"
            code = main([
                "conformance", "--broker", f"{broker.host}:{broker.port}", "--device", device,
                "--deployment", str(broker.deployment.root), "--provoke-will",
                "--ack-timeout", "3", "--json",
            ])  # fmt: skip
        finally:
            built.agent.stop()
            if built.board is not None:
                built.board.close()
    out = capsys.readouterr().out
    statuses = {c["name"]: (c["status"], c["reason"]) for c in json.loads(out)["checks"]}
    assert code == 0, out
    assert statuses["presence.last_will"][0] == "PASS", out
    assert statuses["command.valid"][0] == "PASS", out
    assert statuses["command.unlock"][0] == "NOT CHECKED"
