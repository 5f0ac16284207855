"""``doorstep audit ...`` and ``doorstep hub migrate`` against a real SQLite file."""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub import cli
from hub.audit import AuditAction, NewEntry, append_many, make_checkpoint
from hub.storage import Database
from protocol.signing import private_key_pem, public_key_pem
from tests.fixtures.database import T0


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="doorstep")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def hub_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "hub-signing.key").write_bytes(private_key_pem(key))
    (tmp_path / "keys" / "hub-signing.pub").write_bytes(public_key_pem(key.public_key()))
    monkeypatch.setenv("DOORSTEP_HUB_DATA_DIR", str(tmp_path))
    return tmp_path


def _fill(url: str, key_path: Path, count: int = 50) -> None:
    from protocol.signing import load_private_key

    key = load_private_key(key_path)
    db = Database(url)
    with db.session() as s:
        for start in range(0, count, 10):
            append_many(
                s,
                [
                    NewEntry(AuditAction.LOGIN, f"person:p{n}", T0 + timedelta(seconds=n))
                    for n in range(start, start + 10)
                ],
            )
            make_checkpoint(s, key, now=T0 + timedelta(seconds=start + 10))
    db.dispose()


def test_migrate_verify_tamper_and_export(hub_dir: Path, capsys) -> None:
    url = f"sqlite:///{hub_dir / 'hub.sqlite3'}"
    assert run("hub", "migrate") == 0
    assert "schema empty -> 0" in capsys.readouterr().out
    _fill(url, hub_dir / "keys" / "hub-signing.key")

    off_hub = hub_dir / "kept-by-telecare.json"
    assert run("audit", "checkpoints", "--out", str(off_hub)) == 0
    assert len(json.loads(off_hub.read_text())["checkpoints"]) == 5

    pub = str(hub_dir / "keys" / "hub-signing.pub")
    assert run("audit", "verify", "--checkpoints", str(off_hub), "--public-key", pub) == 0
    assert "audit log intact: 50 entries" in capsys.readouterr().out

    # Someone deletes entry #20 behind the hub's back (and the stored checkpoints too).
    with sqlite3.connect(hub_dir / "hub.sqlite3") as conn:
        conn.execute("DELETE FROM audit_entries WHERE seq = 20")
        conn.execute("DELETE FROM audit_checkpoints")
    assert run("audit", "verify", "--db", url, "--checkpoints", str(off_hub)) == 1
    out = capsys.readouterr().out
    assert out.startswith("first bad entry: #20 (deleted)")

    assert run("audit", "verify", "--json", "--checkpoints", str(off_hub)) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["problems"][0]["seq"]) == (False, 20)

    fhir_file = hub_dir / "audit.ndjson"
    assert run("audit", "export", "--format", "fhir", "--to", "10", "--out", str(fhir_file)) == 0
    lines = [json.loads(line) for line in fhir_file.read_text().splitlines()]
    assert [r["id"] for r in lines] == [f"doorstep-audit-{n}" for n in range(1, 11)]
    assert run("audit", "export", "--from", "50") == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Entry 50 and the record of the first export (#51).
    assert [(e["seq"], e["action"]) for e in exported] == [(50, "login"), (51, "export")]
    assert exported[1]["details"]["format"] == "fhir"


def test_checkpoint_now_and_verify_with_stored_copies(hub_dir: Path, capsys) -> None:
    assert run("hub", "migrate") == 0
    _fill(f"sqlite:///{hub_dir / 'hub.sqlite3'}", hub_dir / "keys" / "hub-signing.key", 20)
    assert run("audit", "checkpoint") == 0
    assert "signed checkpoint of #20" in capsys.readouterr().out
    assert run("audit", "verify") == 0
    out = capsys.readouterr().out
    assert "anchored by 3 signed checkpoint(s), newest at #20" in out
    assert "the hub's own database" in out


def test_errors_exit_2_with_a_reason(hub_dir: Path, capsys) -> None:
    assert run("audit", "verify", "--db", "mysql://x/y") == 2
    assert "only sqlite:/// and postgresql+psycopg://" in capsys.readouterr().err
    assert run("audit", "verify") == 2  # not migrated yet
    assert "run 'doorstep hub migrate'" in capsys.readouterr().err
    assert run("hub", "migrate") == 0
    assert run("audit", "verify", "--checkpoints", str(hub_dir / "missing.json")) == 2
    assert "cannot read checkpoint file" in capsys.readouterr().err


def test_fhir_export_of_every_action_validates(hub_dir: Path) -> None:
    """``audit export --format fhir`` never stops at an action newer than its table."""
    from fhir.resources.R4B.auditevent import AuditEvent

    assert run("hub", "migrate") == 0
    db = Database(f"sqlite:///{hub_dir / 'hub.sqlite3'}")
    with db.session() as s:
        append_many(s, [NewEntry(a, "service:hub", T0) for a in AuditAction])
    db.dispose()
    out = hub_dir / "every.ndjson"
    assert run("audit", "export", "--format", "fhir", "--out", str(out)) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["subtype"][-1]["code"] for e in lines] == [a.value for a in AuditAction]
    for line in lines:
        AuditEvent.model_validate(line)
