"""Writes docs/reliability.md from scenario results.

A run of some scenarios (``--only``) replaces only their rows: the figures of every
scenario are kept, as data, in a comment at the end of the page.

    >>> write_doc([result])          # doctest: +SKIP
    PosixPath('.../docs/reliability.md')
"""

from __future__ import annotations

import fcntl
import json
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .figures import Figure, Scenario

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"
LOCK = Path(tempfile.gettempdir()) / "doorstep-reliability-doc.lock"
DATA = re.compile(r"<!-- reliability-data\n(.*?)\n-->", re.S)
COMMAND = "nice -n 5 .venv/bin/python -m reliability --full --only {name} --write-doc"
SHORT_COMMAND = ".venv/bin/python -m reliability --only {name} --write-doc"

INTRO = """# Reliability and security figures

Trust in a remote door lock comes from figures, not claims. Each figure below was measured by
`reliability/` against real processes on one machine: a private Mosquitto started from the
project's generated configuration (mutual TLS and the per-door ACL, except the reconnect storm
and the web attacks, which use the plain one), the hub on SQLite, and the edge agent on the
simulated board (as a `doorstep edge --simulate` child process where the scenario kills it or
cuts it off; in the measuring process where the relay must be watched). Nothing is mocked;
the faults are real (`kill -9`, SIGKILL, a black-holing TCP proxy), except the hub crash,
which stops an in-process hub dead at an exact point (described in its section).

Run them yourself:

```sh
.venv/bin/python -m reliability                          # every scenario, short sizes (~2 min)
nice -n 5 .venv/bin/python -m reliability --full --write-doc   # the full sizes; rewrites this page
.venv/bin/python -m reliability --only storm --full      # one scenario
```

The short sizes also run inside the normal test suite (`tests/reliability/test_short.py`)
and fail the build when a figure misses its target. A target of "(info)" means the figure is
there to be read, not judged.
"""


@dataclass
class Result:
    scenario: Scenario
    full: bool
    figures: list[Figure]
    seconds: float
    at: datetime

    def as_data(self) -> dict[str, Any]:
        return {
            "title": self.scenario.title,
            "about": self.scenario.about,
            "size": self.scenario.full if self.full else self.scenario.short,
            "full": self.full,
            "seconds": round(self.seconds),
            "at": self.at.strftime("%Y-%m-%d %H:%M UTC"),
            "figures": [f.as_dict() for f in self.figures],
        }


def _load(text: str) -> dict[str, Any]:
    match = DATA.search(text)
    return dict(json.loads(match.group(1))) if match else {}


def render(data: dict[str, Any], notes: str = "") -> str:
    lines = [INTRO]
    fulls = sum(1 for d in data.values() if d["full"])
    lines.append(
        f"**{fulls} of {len(data)} scenarios below come from a full run; "
        f"{len(data) - fulls} from a short run** (each scenario's line says which).\n"
    )
    for name, d in data.items():
        run = "full run" if d["full"] else "short run"
        cmd = (COMMAND if d["full"] else SHORT_COMMAND).format(name=name)
        lines.append(f"## {d['title']}\n")
        if d.get("about"):
            lines.append(d["about"] + "\n")
        lines.append(f"From the **{run}** ({d['size']}) on {d['at']}, {d['seconds']} s: `{cmd}`\n")
        lines.append("| figure | value | target | result |")
        lines.append("|---|---|---|---|")
        for f in d["figures"]:
            value = f"{f['value']} {f['unit']}".strip() if f["unit"] else str(f["value"])
            target = "(info)" if f["target"] == "info" else f["target"]
            verdict = "met" if f["passed"] else "**MISSED**"
            if f["target"] == "info":
                verdict = "-"
            lines.append(f"| {f['name']} | {value} | {target} | {verdict} |")
        lines.append("")
    if notes:
        lines.append(notes)
    lines.append("<!-- reliability-data\n" + json.dumps(data, indent=1) + "\n-->\n")
    return "\n".join(lines)


def write_doc(
    results: list[Result], path: Path = DOC, abouts: dict[str, str] | None = None
) -> Path:
    # Scenarios run in parallel (--only) each merge their rows: one writer at a time.
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _write(results, path, abouts or {})


def _write(results: list[Result], path: Path, abouts: dict[str, str]) -> Path:
    old = path.read_text() if path.exists() else ""
    data = _load(old)
    for result in results:
        data[result.scenario.name] = result.as_data()
    for name, d in data.items():  # rows from older runs get today's description
        d["about"] = abouts.get(name, d.get("about", ""))
    order = ["broker_kill", "partition", "edge_kill", "hub_crash", "replay", "malformed", "storm"]
    order.append("web")
    data = {k: data[k] for k in sorted(data, key=lambda k: order.index(k) if k in order else 99)}
    path.write_text(render(data, _notes(old)))
    return path


def _notes(old: str) -> str:
    """Keep a hand-written "## Findings" section (everything from it to the data) as it is."""
    start = old.find("## Findings")
    if start < 0:
        return ""
    end = old.find("<!-- reliability-data", start)
    return old[start:end].rstrip() + "\n"
