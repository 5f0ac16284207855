"""Device configuration: each kind of problem gives its own one-line message with the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from firmware_config.device_config import (
    DeviceConfig,
    check_device_config,
    dump_device_config,
    load_device_config,
)
from firmware_config.errors import ConfigError, DeviceConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "firmware_config" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.toml"))

VALID = """\
[device]
id = "door-3f9a1c7e2b"
name = "Front door"

[broker]
host = "hub.local"
ca = "certs/ca.pem"
cert = "certs/device.pem"
key = "certs/device.key"

[keys]
signing_key = "keys/device-signing.key"
hub_public_key = "keys/hub-signing.pub"

[lock]
relay_pin = 17
position_pin = 5

[doorbell]
pin = 27

[door_contact]
pin = 22

[indicator]
led_pin = 23
buzzer_pin = 24
"""

TLS_FILES = (
    "certs/ca.pem",
    "certs/device.pem",
    "certs/device.key",
    "keys/device-signing.key",
    "keys/hub-signing.pub",
)


def write(folder: Path, text: str, *, with_files: bool = True) -> Path:
    if with_files:
        for name in TLS_FILES:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text("placeholder\n")
    path = folder / "device.toml"
    path.write_text(text)
    return path


def edit(section: str, old: str, new: str, text: str = VALID) -> str:
    """Replace ``old`` by ``new`` inside ``[section]`` only."""
    head, sep, rest = text.partition(f"[{section}]\n")
    assert sep, f"no [{section}] in the base file"
    body, nxt, tail = rest.partition("\n[")
    assert old in body, f"{old!r} not in [{section}]"
    return head + sep + body.replace(old, new, 1) + nxt + tail


def one_problem(path: Path, check_files: bool = True):
    problems = check_device_config(path, check_files=check_files)
    assert len(problems) == 1, [str(p) for p in problems]
    assert "\n" not in str(problems[0])
    return problems[0]


def test_valid_file_has_no_problems_and_resolves_paths(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    assert check_device_config(path) == []
    cfg = load_device_config(path, check_files=True)
    assert cfg.broker.ca == tmp_path / "certs" / "ca.pem"
    assert cfg.outbox.path == tmp_path / "state" / "outbox.sqlite"
    assert cfg.lock.kind == "strike"
    assert cfg.lock.fail_secure is True
    assert cfg.camera.kind == "none"


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_files_are_valid(example: Path) -> None:
    assert check_device_config(example, check_files=False) == []


def test_every_expected_example_exists() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {"pi4.toml", "pi5.toml", "pi-zero-2w.toml", "simulated.toml"} <= names


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_share_one_wiring(example: Path) -> None:
    """hardware/README.md has one wiring table; every example must match it."""
    wiring = {
        "lock.relay_pin": 17,
        "lock.position_pin": 5,
        "doorbell.pin": 27,
        "door_contact.pin": 22,
        "indicator.led_pin": 23,
        "indicator.buzzer_pin": 24,
    }
    cfg = load_device_config(example)
    for where, pin in cfg.pins():
        assert wiring[where] == pin, where


def test_pin_used_twice(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, edit("doorbell", "pin = 27", "pin = 17")))
    assert problem.location == "doorbell.pin"
    assert "BCM pin 17 is already used by lock.relay_pin" in problem.message
    assert "give each part its own GPIO pin" in problem.message


@pytest.mark.parametrize("pin", [0, 1, 28, 40])
def test_pin_out_of_range(tmp_path: Path, pin: int) -> None:
    problem = one_problem(write(tmp_path, edit("lock", "relay_pin = 17", f"relay_pin = {pin}")))
    assert problem.location == "lock.relay_pin"
    assert f"pin {pin} is out of range" in problem.message
    assert "BCM GPIO number from 2 to 27" in problem.message


def test_pin_must_be_an_integer(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, edit("doorbell", "pin = 27", "pin = true")))
    assert problem.location == "doorbell.pin"
    assert "valid integer" in problem.message


def test_hold_zero(tmp_path: Path) -> None:
    problem = one_problem(
        write(tmp_path, edit("lock", "relay_pin = 17", "relay_pin = 17\nhold_s = 0"))
    )
    assert problem.location == "lock.hold_s"
    assert "would never release the door" in problem.message
    assert "0.5-30 s" in problem.message


def test_hold_too_long(tmp_path: Path) -> None:
    text = edit("lock", "relay_pin = 17", "relay_pin = 17\nhold_s = 600")
    problem = one_problem(write(tmp_path, text))
    assert problem.location == "lock.hold_s"
    assert "security risk" in problem.message
    assert "hold_s = 5.0" in problem.message


def test_deadbolt_needs_door_contact(tmp_path: Path) -> None:
    text = edit("lock", "relay_pin = 17", 'kind = "deadbolt"\nrelay_pin = 17')
    text = text.replace("[door_contact]\npin = 22\n", "")
    problem = one_problem(write(tmp_path, text))
    assert problem.location == "lock.kind"
    assert "add a [door_contact] section" in problem.message


def test_jam_timeout_longer_than_hold(tmp_path: Path) -> None:
    text = edit("lock", "relay_pin = 17", "relay_pin = 17\nhold_s = 2\njam_timeout_s = 4")
    problem = one_problem(write(tmp_path, text))
    assert problem.location == "lock.jam_timeout_s"
    assert "make it shorter" in problem.message


def test_missing_certificate_file(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    (tmp_path / "certs" / "device.pem").unlink()
    problem = one_problem(path)
    assert problem.location == "broker.cert"
    assert str(tmp_path / "certs" / "device.pem") in problem.message
    assert "does not exist" in problem.message
    assert "provisioning bundle" in problem.message
    assert check_device_config(path, check_files=False) == []


def test_bad_device_id(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, VALID.replace("door-3f9a1c7e2b", "Door_1")))
    assert problem.location == "device.id"
    assert "'Door_1' is invalid" in problem.message
    assert "a-z, 0-9 and '-'" in problem.message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    problem = one_problem(
        write(tmp_path, edit("doorbell", "pin = 27", "pin = 27\nbounce_msec = 5"))
    )
    assert problem.location == "doorbell.bounce_msec"
    assert "unknown key 'bounce_msec'" in problem.message
    assert "did you mean 'bounce_ms'?" in problem.message


def test_unknown_section_suggests_the_right_one(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, VALID + "\n[camrea]\nkind = 'usb'\n"))
    assert problem.location == "camrea"
    assert "did you mean [camera]?" in problem.message


def test_missing_key_names_what_to_add(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, edit("doorbell", "pin = 27", "bounce_ms = 40")))
    assert problem.location == "doorbell.pin"
    assert "add pin = ... to [doorbell]" in problem.message


def test_bad_literal_lists_the_choices(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, VALID + '\n[camera]\nkind = "webcam"\n'))
    assert problem.location == "camera.kind"
    assert "'picamera2', 'usb', 'simulated' or 'none'" in problem.message


def test_broken_toml(tmp_path: Path) -> None:
    problem = one_problem(write(tmp_path, VALID + "\n[lock\n"))
    assert problem.location == "(toml)"
    assert "line" in problem.message


def test_missing_file(tmp_path: Path) -> None:
    problem = one_problem(tmp_path / "nope.toml")
    assert "file not found" in problem.message


def test_every_problem_is_listed_and_load_raises(tmp_path: Path) -> None:
    text = edit("lock", "relay_pin = 17", "relay_pin = 99\nhold_s = 0")
    text = edit("doorbell", "pin = 27", "pin = 1\nbell = 2", text)
    path = write(tmp_path, text)
    locations = {p.location for p in check_device_config(path)}
    assert locations == {"lock.relay_pin", "lock.hold_s", "doorbell.pin", "doorbell.bell"}
    with pytest.raises(DeviceConfigError) as info:
        load_device_config(path)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)
    assert len(info.value.problems) == 4
    assert "doorstep config check" in str(info.value)


def test_model_is_frozen_and_forbids_extra(tmp_path: Path) -> None:
    cfg = load_device_config(write(tmp_path, VALID))
    with pytest.raises(ValueError, match="frozen"):
        cfg.lock.hold_s = 1.0  # type: ignore[misc]
    data = cfg.model_dump()
    data["lock"]["relay_pim"] = 3
    with pytest.raises(ValueError, match="relay_pim"):
        DeviceConfig.model_validate(data)


def test_every_field_is_described() -> None:
    def walk(model: type) -> list[str]:
        undescribed = []
        for name, field in model.model_fields.items():
            if not field.description:
                undescribed.append(f"{model.__name__}.{name}")
            for sub in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(sub, type) and hasattr(sub, "model_fields"):
                    undescribed += walk(sub)
        return undescribed

    assert walk(DeviceConfig) == []


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.name)
def test_dump_round_trips(tmp_path: Path, example: Path) -> None:
    cfg = load_device_config(example)
    text = dump_device_config(cfg, relative_to=example.parent)
    assert 'ca = "certs/ca.pem"' in text
    tomllib.loads(text)  # valid TOML
    copy = tmp_path / example.name
    copy.write_text(text)
    again = load_device_config(copy)
    # Paths were written relative, so they now resolve under the copy's folder.
    assert again.broker.ca == tmp_path / "certs" / "ca.pem"
    assert again.model_dump(exclude={"broker", "keys", "outbox"}) == cfg.model_dump(
        exclude={"broker", "keys", "outbox"}
    )
    assert again.broker.host == cfg.broker.host
    assert again.outbox.max_bytes == cfg.outbox.max_bytes


def test_dump_without_relative_to_keeps_absolute_paths(tmp_path: Path) -> None:
    cfg = load_device_config(write(tmp_path, VALID))
    text = dump_device_config(cfg)
    assert f'ca = "{tmp_path / "certs" / "ca.pem"}"' in text
    assert "door_contact" in text
    assert "software_channel" not in text  # None is left out, TOML has no null
