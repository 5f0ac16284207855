"""Runs the scenarios, prints one line per figure, and (on request) writes docs/reliability.md.

$ .venv/bin/python -m reliability                       # short sizes, every scenario
$ nice -n 5 .venv/bin/python -m reliability --full --write-doc
$ .venv/bin/python -m reliability --only partition --full
"""

from __future__ import annotations

import argparse
import logging
import time
import traceback
from datetime import UTC, datetime

from . import (
    s1_broker_kill,
    s2_partition,
    s3_edge_kill,
    s4_hub_crash,
    s5_replay,
    s6_malformed,
    s7_storm,
    s8_web,
)
from .doc import Result, write_doc
from .figures import Figure, Scenario


def _about(doc: str | None) -> str:
    """The module docstring without its first line (the title), as one paragraph per block."""
    blocks = (doc or "").strip().split("\n\n")[1:]
    return "\n\n".join(" ".join(b.split()) if not b.lstrip().startswith("-") else b for b in blocks)


SCENARIOS = [
    Scenario(name, m.TITLE, m.run, m.SHORT, m.FULL, _about(m.__doc__))
    for name, m in (
        ("broker_kill", s1_broker_kill),
        ("partition", s2_partition),
        ("edge_kill", s3_edge_kill),
        ("hub_crash", s4_hub_crash),
        ("replay", s5_replay),
        ("malformed", s6_malformed),
        ("storm", s7_storm),
        ("web", s8_web),
    )
]


def by_name(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    names = ", ".join(s.name for s in SCENARIOS)
    raise SystemExit(f"no scenario {name!r}; choose from {names}")


def run_one(scenario: Scenario, full: bool) -> Result:
    started = time.monotonic()
    try:
        figures = scenario.run(full)
    except Exception as exc:  # a scenario that cannot finish is a failed figure, not a crash
        logging.getLogger(__name__).error("%s failed:\n%s", scenario.name, traceback.format_exc())
        figures = [Figure("scenario completed", f"no: {exc!r}"[:120], "completes", False)]
    return Result(
        scenario=scenario,
        full=full,
        figures=figures,
        seconds=time.monotonic() - started,
        at=datetime.now(UTC),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the full sizes (tens of minutes)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only this scenario"
    )
    parser.add_argument(
        "--write-doc", action="store_true", help="write the figures into docs/reliability.md"
    )
    parser.add_argument("--verbose", action="store_true", help="show the parts' warnings too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    chosen = [by_name(n) for n in args.only] if args.only else SCENARIOS
    results = []
    for scenario in chosen:
        size = scenario.full if args.full else scenario.short
        print(f"== {scenario.name}: {scenario.title} ({size})", flush=True)
        result = run_one(scenario, args.full)
        for figure in result.figures:
            print(f"   {figure.line()}", flush=True)
        print(f"   ({result.seconds:.0f} s)", flush=True)
        results.append(result)
    if args.write_doc:
        path = write_doc(results, abouts={s.name: s.about for s in SCENARIOS})
        print(f"wrote {path}")
    failed = [f"{r.scenario.name}: {f.name}" for r in results for f in r.figures if not f.passed]
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    print(f"all {sum(len(r.figures) for r in results)} figures met their targets")
    return 0
