"""Audit log throughput: durable appends per second and verification speed.

Each "durable" append is its own transaction (one entry, one commit) on SQLite in
WAL mode with ``synchronous=FULL``, and on PostgreSQL with its default crash
safety (fsync on, synchronous_commit on). Also measured: the same with several
hub connections appending at once (they serialise on the head row), appends
batched 1,000 per transaction, and ``verify`` in entries per second.

PostgreSQL comes from ``DOORSTEP_BENCH_POSTGRES_URL`` if set, else a private
throwaway cluster started from Debian's server binaries; otherwise it is skipped.

    $ python -m bench.audit_append --entries 2000
    {"benchmark": "audit_append", "sqlite": {"durable_appends_per_s": 7900.0, ...}, ...}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit import AuditAction, NewEntry, append, append_many, make_checkpoint, verify
from hub.storage import Database

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
DETAILS = {"reason": "carer at the door", "hold_s": 5, "via": "mobile"}
SUBJECTS = ("device:door-1a2b3c4d5e", "command:3f1c2d4e-0000-4000-8000-000000000001")


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def durable_appends(db: Database, count: int) -> float:
    """Appends per second, one committed transaction per entry."""
    started = time.perf_counter()
    for n in range(count):
        with db.session() as s:
            append(
                s,
                AuditAction.UNLOCK_REQUESTED,
                actor="person:p1",
                at=T0,
                subjects=SUBJECTS,
                details=DETAILS | {"n": n},
            )
    return _rate(count, time.perf_counter() - started)


def concurrent_appends(url: str, hubs: int, each: int) -> float:
    """Appends per second with ``hubs`` separate connections appending at once."""
    dbs = [Database(url) for _ in range(hubs)]
    barrier = threading.Barrier(hubs + 1)

    def work(db: Database) -> None:
        barrier.wait()
        for _ in range(each):
            with db.session() as s:
                append(s, AuditAction.LOGIN, actor="person:p2", at=T0, details=DETAILS)

    threads = [threading.Thread(target=work, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    for db in dbs:
        db.dispose()
    return _rate(hubs * each, seconds)


def batched_appends(db: Database, count: int, batch: int = 1000) -> float:
    started = time.perf_counter()
    for start in range(0, count, batch):
        entries = [
            NewEntry(
                AuditAction.COMMAND_SENT,
                "service:hub",
                T0 + timedelta(seconds=n),
                SUBJECTS,
                DETAILS | {"n": n},
            )
            for n in range(start, min(start + batch, count))
        ]
        with db.session() as s:
            append_many(s, entries)
    return _rate(count, time.perf_counter() - started)


def verify_speed(db: Database, key: Ed25519PrivateKey) -> dict[str, Any]:
    with db.session() as s:
        checkpoint = make_checkpoint(s, key, now=T0 + timedelta(days=1))
    report = verify(db, [checkpoint.envelope], key.public_key())
    if not report.ok:
        raise SystemExit(f"benchmark log does not verify: {report.summary()}")
    return {
        "verified_entries": report.entries,
        "verify_seconds": round(report.seconds, 3),
        "verify_entries_per_s": _rate(report.entries, report.seconds),
    }


def measure(db: Database, args: argparse.Namespace) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    result: dict[str, Any] = {"durable_appends_per_s": durable_appends(db, args.entries)}
    each = max(args.entries // args.hubs, 1)
    result[f"durable_appends_per_s_{args.hubs}_hubs"] = concurrent_appends(db.url, args.hubs, each)
    done = args.entries + each * args.hubs
    result["batched_appends_per_s"] = batched_appends(db, max(args.verify_entries - done, 0))
    result.update(verify_speed(db, key))
    return result


def sqlite_figures(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="doorstep-bench-audit-"))
    db = Database(f"sqlite:///{folder / 'hub.sqlite3'}")
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            pragmas = {
                "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                    conn.exec_driver_sql("PRAGMA synchronous").scalar()
                ],
            }
        return pragmas | measure(db, args)
    finally:
        db.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def postgres_figures(args: argparse.Namespace) -> dict[str, Any]:
    url = os.environ.get("DOORSTEP_BENCH_POSTGRES_URL")
    stop: Callable[[], None] = lambda: None  # noqa: E731
    if not url:
        # The throwaway-cluster helper lives with the test fixtures (repo root on the path).
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.fixtures.database import ThrowawayPostgres, postgres_bin_dir

        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            return {"skipped": "no DOORSTEP_BENCH_POSTGRES_URL and no PostgreSQL server binaries"}
        server = ThrowawayPostgres(bin_dir, durable=True).start()
        url, stop = server.url(), server.stop
    db = Database(url)
    try:
        db.upgrade()
        with db.engine.connect() as conn:
            settings = {
                name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("server_version", "fsync", "synchronous_commit")
            }
        return settings | measure(db, args)
    finally:
        db.dispose()
        stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000, help="durable appends to time")
    parser.add_argument("--hubs", type=int, default=4, help="concurrent appenders")
    parser.add_argument(
        "--verify-entries", type=int, default=20_000, help="log size for the verify timing"
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    result = {
        "benchmark": "audit_append",
        "entries": args.entries,
        "cpus": os.cpu_count(),
        "sqlite": sqlite_figures(args),
        "postgresql": {"skipped": "--no-postgres"} if args.no_postgres else postgres_figures(args),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
