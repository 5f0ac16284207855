"""``doorstep config``: check prints one line per problem; the committed schema is fresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doorstep.cli import main
from firmware_config.cli_config import SCHEMA_PATH, schema_text
from firmware_config.device_config import DeviceConfig

EXAMPLES = Path(__file__).resolve().parents[2] / "firmware_config" / "examples"


def test_committed_schema_is_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema", "--check"]) == 0, (
        "docs/schemas/device-config.schema.json is stale: run 'doorstep config schema'"
    )
    assert "up to date" in capsys.readouterr().out


def test_schema_check_fails_on_stale_file(tmp_path: Path, capsys) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n")
    assert main(["config", "schema", "--check", "--output", str(stale)]) == 1
    assert "is stale" in capsys.readouterr().err
    assert main(["config", "schema", "--output", str(stale)]) == 0
    assert main(["config", "schema", "--check", "--output", str(stale)]) == 0


def test_schema_is_the_models_schema() -> None:
    schema = json.loads(schema_text())
    assert SCHEMA_PATH.name == "device-config.schema.json"
    assert schema["properties"].keys() == DeviceConfig.model_json_schema()["properties"].keys()
    lock = schema["$defs"]["LockSection"]
    assert lock["additionalProperties"] is False
    assert lock["properties"]["relay_pin"]["minimum"] == 2
    assert lock["properties"]["relay_pin"]["maximum"] == 27


def test_check_valid_example(capsys) -> None:
    assert main(["config", "check", "--no-files", str(EXAMPLES / "pi4.toml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: ")
    assert "door-3f9a1c7e2b" in out


def test_check_prints_one_line_per_problem(tmp_path: Path, capsys) -> None:
    text = (EXAMPLES / "simulated.toml").read_text()
    text = text.replace("relay_pin = 17", "relay_pin = 27").replace("hold_s = 5.0", "hold_s = 0")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    assert main(["config", "check", "--no-files", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # the hold error hides the cross-field pin check until fixed
    assert lines[0].startswith("lock.hold_s: ")
    bad.write_text(text.replace("hold_s = 0", "hold_s = 5"))
    assert main(["config", "check", "--no-files", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "doorbell.pin: BCM pin 27 is already used by lock.relay_pin: "
        "give each part its own GPIO pin"
    ]


def test_check_reports_missing_certificates(capsys) -> None:
    assert main(["config", "check", str(EXAMPLES / "pi-zero-2w.toml")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert {line.split(":")[0] for line in lines} == {
        "broker.ca",
        "broker.cert",
        "broker.key",
        "keys.signing_key",
        "keys.hub_public_key",
    }


def test_show_fills_in_defaults(capsys) -> None:
    assert main(["config", "show", str(EXAMPLES / "pi-zero-2w.toml")]) == 0
    out = capsys.readouterr().out
    assert "usb_index = 0" in out
    assert 'ca = "certs/ca.pem"' in out
