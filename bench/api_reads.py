"""The web API's read side at realistic scale: what telecare staff and families wait for.

Builds a hub database with a fleet (default: 500 homes, a tenth with two doors, two
family members each, three telecare officers watching every home, carers with visit
windows, 60 days x 30 events a door, unlocks in the audit log, alerts), serves the real
app (``create_app``) with uvicorn on loopback, logs real users in, and times the pages'
GETs over HTTP with one keep-alive client, interleaved, against two baselines measured
in the same run: ``/api/health`` (no session) and ``/api/session`` (the cheapest
authenticated route). The hub itself is not started (no broker): only the web app's
reads are measured, on a quiet database.

    $ .venv/bin/python -m bench.api_reads
    $ .venv/bin/python -m bench.api_reads --homes 50 --days 7 --requests 100 --explain
    $ .venv/bin/python -m bench.api_reads --db postgresql://postgres@localhost:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.runtime_settings import HubRuntimeSettings
from hub.service import Hub
from hub.storage import Database, SnapshotFiles
from hub.storage.accounts import Passwords
from mobile_api.app import create_app
from mobile_api.settings import WebSettings
from protocol import utcnow

from ._api_fleet import PASSWORD, Fleet, FleetSize, User, build_fleet
from ._api_sql import StatementLog, explain
from ._stack import SteppingClock, _serve

BASELINES = ("health", "session")


def _say(text: str) -> None:
    print(f"[api_reads {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


@contextmanager
def open_database(url: str | None, root: Path) -> Iterator[Database]:
    """SQLite in ``root`` by default; with a PostgreSQL URL, a fresh database of our own
    on that server (created here, dropped on exit), so nothing else is disturbed."""
    if not url:
        db = Database(f"sqlite:///{root / 'hub.sqlite3'}")
        try:
            yield db
        finally:
            db.dispose()
        return
    from sqlalchemy import create_engine, make_url, text

    given = make_url(url)
    if given.drivername == "postgresql":
        given = given.set(drivername="postgresql+psycopg")
    name = f"doorstep_bench_api_reads_{os.getpid()}"
    admin = create_engine(given, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    db = Database(given.set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def log_in(client: httpx.Client, clock: SteppingClock, user: User) -> dict[str, str]:
    """The session cookie as a header: it is Secure (``__Host-``) and this is plain HTTP
    on loopback, so the client's jar would not send it back."""
    r = client.post(
        "/api/login",
        json={"username": user.username, "password": PASSWORD, "totp": clock.code(user.secret)},
    )
    r.raise_for_status()
    return {"Cookie": r.headers["set-cookie"].split(";")[0]}


def deep_page(client: httpx.Client, cookie: dict[str, str], home: str, pages: int) -> str:
    """The address ``pages`` Link headers back from the first page (or the last page)."""
    url = f"/api/homes/{quote(home)}/events?limit=100"
    for _ in range(pages):
        r = client.get(url, headers=cookie)
        r.raise_for_status()
        if "next" not in r.links:
            break
        url = r.links["next"]["url"]
    return url


def targets(
    client: httpx.Client, clock: SteppingClock, fleet: Fleet, deep: int
) -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Per route, the (address, headers) the bench cycles through: family routes over
    each family account's own home, the fleet over the officers."""
    family = [(u, log_in(client, clock, u)) for u in fleet.family]
    officers = [(u, log_in(client, clock, u)) for u in fleet.officers]

    def per_home(path: str) -> list[tuple[str, dict[str, str]]]:
        return [(path.format(home=quote(u.home or "")), c) for u, c in family]

    return {
        "health": [("/api/health", {})],
        "session": [("/api/session", c) for _, c in family],
        "me_family": [("/api/me", c) for _, c in family],
        "me_officer": [("/api/me", c) for _, c in officers],
        "fleet": [("/api/fleet", c) for _, c in officers],
        "doors": per_home("/api/homes/{home}/doors"),
        "events_first": per_home("/api/homes/{home}/events?limit=100"),
        "events_deep": [(deep_page(client, c, u.home or "", deep), c) for u, c in family],
        "audit": per_home("/api/homes/{home}/audit?limit=100"),
        "expected": per_home("/api/homes/{home}/expected"),
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def measure(
    client: httpx.Client,
    routes: dict[str, list[tuple[str, dict[str, str]]]],
    requests: int,
    warmup: int,
    slow_requests: int,
) -> dict[str, dict[str, Any]]:
    """Interleaved: every round asks each route once, so a change in machine load
    lands on all routes alike. Routes slower than 0.5 s stop after ``slow_requests``."""
    times: dict[str, list[float]] = {name: [] for name in routes}
    sizes: dict[str, int] = {}
    for i in range(warmup + requests):
        for name, cycle in routes.items():
            if len(times[name]) >= slow_requests and percentile(times[name], 50) > 500:
                continue
            url, headers = cycle[i % len(cycle)]
            start = time.perf_counter()
            r = client.get(url, headers=headers)
            elapsed = (time.perf_counter() - start) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"GET {url} answered {r.status_code}: {r.text[:200]}")
            if i >= warmup:
                times[name].append(elapsed)
                sizes[name] = len(r.content)
        if i % 20 == 19:
            _say(f"round {i + 1}/{warmup + requests}")
    return {
        name: {
            "n": len(t),
            "p50_ms": round(percentile(t, 50), 2),
            "p95_ms": round(percentile(t, 95), 2),
            "p99_ms": round(percentile(t, 99), 2),
            "max_ms": round(max(t), 2),
            "response_bytes": sizes[name],
        }
        for name, t in times.items()
    }


def with_ratios(figures: dict[str, dict[str, Any]]) -> None:
    for f in figures.values():
        for base in BASELINES:
            b = figures[base]
            f[f"x_{base}_p50"] = round(f["p50_ms"] / b["p50_ms"], 1)
            f[f"x_{base}_p95"] = round(f["p95_ms"] / b["p95_ms"], 1)
        f["slow"] = f["p95_ms"] > 50


def statements_per_request(
    client: httpx.Client,
    routes: dict[str, list[tuple[str, dict[str, str]]]],
    log: StatementLog,
    db: Database,
    plans: bool,
) -> dict[str, dict[str, Any]]:
    """SQL statements one request of each route sends (the session check included),
    and with ``plans`` the database's plan for each distinct statement."""
    out: dict[str, dict[str, Any]] = {}
    for name, cycle in routes.items():
        url, headers = cycle[0]
        with log.recording() as seen:
            client.get(url, headers=headers).raise_for_status()
        distinct: dict[str, dict[str, Any]] = {}
        for statement, params in seen:
            entry = distinct.setdefault(statement, {"count": 0, "params": params})
            entry["count"] += 1
        out[name] = {"statements": len(seen), "distinct": len(distinct)}
        if plans:
            out[name]["plans"] = [
                {
                    "sql": " ".join(sql.split()),
                    "count": e["count"],
                    "plan": explain(db, sql, e["params"]),
                }
                for sql, e in sorted(distinct.items(), key=lambda kv: -kv[1]["count"])
            ]
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    load_start = os.getloadavg()
    size = FleetSize(
        homes=args.homes,
        two_door_every=args.two_door_every,
        family_per_home=args.family_per_home,
        officers=args.officers,
        days=args.days,
        events_per_day=args.events_per_day,
        unlocks_per_day=args.unlocks_per_day,
        accounts=min(args.accounts, args.homes),
    )
    root = Path(tempfile.mkdtemp(prefix="doorstep-bench-reads-"))
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    try:
        with open_database(args.db, root) as db:
            db.upgrade()
            t = time.perf_counter()
            fleet = build_fleet(db, size, passwords, utcnow(), _say)
            build_s = time.perf_counter() - t
            _say(f"built in {build_s:.1f} s: {fleet.counts}")
            hub = Hub(db, SnapshotFiles(root / "snapshots"), Ed25519PrivateKey.generate(),
                      HubRuntimeSettings())  # fmt: skip
            clock = SteppingClock()
            app = create_app(hub, WebSettings(), passwords=passwords, clock=clock)
            server, thread, port = _serve(app)
            base = f"http://127.0.0.1:{port}"
            log = StatementLog(db)
            try:
                with httpx.Client(base_url=base, timeout=120) as client:
                    routes = targets(client, clock, fleet, args.deep_pages)
                    load_measure = os.getloadavg()
                    load = f"load {load_measure[0]:.2f}"
                    _say(f"measuring {len(routes)} routes x {args.requests} ({load})")
                    figures = measure(
                        client, routes, args.requests, args.warmup, args.slow_requests
                    )
                    with_ratios(figures)
                    sql = statements_per_request(client, routes, log, db, args.explain)
            finally:
                server.should_exit = True
                thread.join(10)
                log.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, counts in sql.items():
        figures[name] |= counts
    return {
        "bench": "api_reads",
        "command": " ".join(["python -m bench.api_reads", *sys.argv[1:]]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgresql" if args.db else "sqlite",
        "fleet": fleet.counts | {"events_per_day_per_door": size.events_per_day, "days": size.days},
        "build_s": round(build_s, 1),
        "load_avg": {"start": load_start, "measure_start": load_measure, "end": os.getloadavg()},
        "cpus": os.cpu_count(),
        "requests_per_route": args.requests,
        "baselines": list(BASELINES),
        "routes": figures,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--db", help="postgresql://... (a fresh database is made on it); default SQLite")
    p.add_argument("--homes", type=int, default=500)
    p.add_argument("--two-door-every", type=int, default=10, help="every n-th home has 2 doors")
    p.add_argument("--family-per-home", type=int, default=2)
    p.add_argument(
        "--officers", type=int, default=3, help="telecare officers, each watching every home"
    )
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--events-per-day", type=int, default=30, help="per door")
    p.add_argument("--unlocks-per-day", type=int, default=2, help="per door, 3 audit entries each")
    p.add_argument("--accounts", type=int, default=10, help="family users logged in (one per home)")
    p.add_argument("--requests", type=int, default=100, help="timed requests per route")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--slow-requests", type=int, default=100,
                   help="stop timing a route with p50 over 0.5 s after this many")  # fmt: skip
    p.add_argument(
        "--deep-pages", type=int, default=10, help="Link headers followed for the deep page"
    )
    p.add_argument("--explain", action="store_true", help="add each statement's query plan")
    args = p.parse_args()
    if args.homes < 1 or args.days < 1 or args.events_per_day < 1 or args.family_per_home < 1:
        p.error("--homes, --days, --events-per-day and --family-per-home must be at least 1")
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
