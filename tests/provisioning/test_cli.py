"""``doorstep provision``: the happy path, and every error in one line with its fix."""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorstep.cli import main


@pytest.fixture
def workdir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="doorstep-cli-"))
    root.chmod(0o711)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["provision", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("doorstep provision: error: ")
    return lines[0]


def test_full_cycle(capsys, workdir):
    d = str(workdir / "dep")
    code, out, _ = run(capsys, "init", "--dir", d, "--host", "hub.local")
    assert code == 0
    assert "add-device" in out
    code, out, _ = run(capsys, "add-device", "--dir", d, "--id", "door-cli1", "--name", "Front")
    assert code == 0
    assert "door-cli1" in out
    assert (workdir / "dep/bundles/door-cli1.tar.gz").is_file()
    code, out, _ = run(capsys, "add-service", "hub-2", "--dir", d)
    assert code == 0
    assert "svc.hub-2" in out
    code, out, _ = run(capsys, "broker-config", "--dir", d, "--port", "18884")
    assert code == 0
    assert "6 file(s) changed" in out
    code, out, _ = run(capsys, "broker-config", "--dir", d, "--port", "18884")
    assert code == 0
    assert "0 file(s) changed" in out
    code, out, _ = run(capsys, "list", "--dir", d, "--json")
    reg = json.loads(out)
    assert list(reg["devices"]) == ["door-cli1"]
    assert sorted(reg["services"]) == ["hub", "hub-2"]
    code, out, _ = run(capsys, "remove-device", "door-cli1", "--dir", d)
    assert code == 0
    assert "revoked" in out
    acl = (workdir / "dep/mosquitto/acl").read_text()
    assert "user door-cli1\ntopic deny #" in acl
    # The broker folder kept the port it was generated with.
    assert "listener 18884 0.0.0.0" in (workdir / "dep/mosquitto/mosquitto.conf").read_text()
    code, out, _ = run(capsys, "list", "--dir", d)
    assert "devices (0)" in out
    assert "revoked certificates: 1" in out


def test_missing_ca_says_run_init(capsys, workdir):
    code, _, err = run(capsys, "add-device", "--dir", str(workdir / "none"))
    assert code == 1
    assert f"doorstep provision init --dir {workdir / 'none'}" in one_line_error(err)


def test_duplicate_device(capsys, workdir):
    d = str(workdir / "dep")
    run(capsys, "init", "--dir", d)
    run(capsys, "add-device", "--dir", d, "--id", "door-dup1")
    code, _, err = run(capsys, "add-device", "--dir", d, "--id", "door-dup1")
    assert code == 1
    line = one_line_error(err)
    assert "already registered" in line
    assert "omit --id" in line


def test_existing_keys_need_force(capsys, workdir):
    d = str(workdir / "dep")
    run(capsys, "init", "--dir", d)
    ca_before = (workdir / "dep/ca/ca.key").read_bytes()
    code, _, err = run(capsys, "init", "--dir", d)
    assert code == 1
    assert "--force" in one_line_error(err)
    code, _, err = run(capsys, "add-service", "hub", "--dir", d)
    assert code == 1
    assert "--force" in one_line_error(err)
    assert (workdir / "dep/ca/ca.key").read_bytes() == ca_before
    code, _, _ = run(capsys, "init", "--dir", d, "--force")
    assert code == 0
    assert (workdir / "dep/ca/ca.key").read_bytes() != ca_before
    assert stat.S_IMODE((workdir / "dep/ca/ca.key").stat().st_mode) == 0o600


def test_unwritable_folder(capsys, workdir):
    blocker = workdir / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "init", "--dir", str(blocker / "dep"))
    assert code == 1
    line = one_line_error(err)
    assert str(blocker / "dep") in line
    assert "--dir" in line


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["add-device", "--id", "Bad_Id"], "omit --id"),
        (["remove-device", "door-nobody"], "doorstep provision list"),
        (["add-service", "svc.x"], "a-z, 0-9"),
        (["add-device", "--template", "/nonexistent.toml"], "doorstep config check"),
    ],
)
def test_other_errors_are_one_line_with_a_fix(capsys, workdir, argv, fix):
    d = str(workdir / "dep")
    run(capsys, "init", "--dir", d)
    code, _, err = run(capsys, *argv, "--dir", d)
    assert code == 1
    assert fix in one_line_error(err)


def test_bad_host_name(capsys, workdir):
    code, _, err = run(capsys, "init", "--dir", str(workdir / "dep"), "--host", "bad host!")
    assert code == 1
    assert "--host hub.local" in one_line_error(err)
