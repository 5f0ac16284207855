"""The reliability and security suite at its short sizes: every figure must meet its target.

Each scenario starts real processes (Mosquitto from the generated configuration, the hub,
the edge agent on the simulated board) and breaks them; see reliability/ for what each one
does and docs/reliability.md for the full-size figures. A figure that misses its target
fails the build, with every figure of that scenario in the message.

    .venv/bin/pytest -q tests/reliability/test_short.py
    .venv/bin/python -m reliability --only partition      # the same scenario, by hand
"""

from __future__ import annotations

import pytest

from reliability.runner import SCENARIOS, run_one

pytestmark = pytest.mark.timeout(600)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_figure_meets_its_target(scenario, record_property):
    result = run_one(scenario, full=False)
    for figure in result.figures:
        record_property(figure.name, figure.shown())
    report = "\n".join(f.line() for f in result.figures)
    assert result.figures, f"{scenario.name} reported no figures"
    missed = [f for f in result.figures if not f.passed]
    assert not missed, f"{scenario.name} missed its targets:\n{report}"
