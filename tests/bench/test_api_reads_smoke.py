"""``python -m bench.api_reads`` runs end to end at a tiny size and reports every route.

The bench stops with an error when any route answers other than 200, so a broken
route, login or fleet builder fails this test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.database import PostgresDatabases

REPO = Path(__file__).resolve().parents[2]
TINY = ["--homes", "4", "--two-door-every", "2", "--days", "2", "--events-per-day", "60",
        "--accounts", "2", "--officers", "1", "--requests", "3", "--warmup", "1",
        "--deep-pages", "2", "--explain"]  # fmt: skip
ROUTES = {"health", "session", "me_family", "me_officer", "fleet", "doors",
          "events_first", "events_deep", "audit", "expected"}  # fmt: skip


def run_bench(*extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.api_reads", *TINY, *extra],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def check(report: dict, database: str) -> None:
    assert report["database"] == database
    assert report["fleet"]["homes"] == 4
    assert report["fleet"]["doors"] == 6  # every second home has a back door
    assert report["fleet"]["events"] == 6 * 2 * 60
    assert set(report["routes"]) == ROUTES
    for name, figures in report["routes"].items():
        assert figures["n"] == 3, name
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], name
        assert figures["x_session_p50"] > 0, name
    routes = report["routes"]
    assert routes["health"]["statements"] == 0  # public: no session read
    assert routes["fleet"]["statements"] > routes["session"]["statements"]
    # 120 events a door: the deep page (two Links back) holds older events than the first
    assert routes["events_deep"]["response_bytes"] > 0
    plans = [p for p in routes["doors"]["plans"] if p["plan"]]
    assert plans, "--explain gave no plan for /doors"
    assert all(len(report["load_avg"][k]) == 3 for k in ("start", "measure_start", "end"))


def test_bench_runs_on_sqlite() -> None:
    check(run_bench(), "sqlite")


@pytest.mark.postgres
def test_bench_runs_on_postgresql(postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.url.set(database="postgres").render_as_string(hide_password=False)
    check(run_bench("--db", url), "postgresql")
