"""What a scenario reports: figures with a target each, and whether the target was met.

>>> f = at_most("events lost", 0, 0)
>>> f.passed, f.line()
(True, 'events lost                                                 0   target <= 0      PASS')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Figure:
    name: str
    value: float | int | str
    target: str  # as people read it: "<= 0", ">= 95", "info"
    passed: bool
    unit: str = ""

    def shown(self) -> str:
        value = f"{self.value:.2f}" if isinstance(self.value, float) else str(self.value)
        return f"{value} {self.unit}".strip()

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        target = "(no target)" if self.target == "info" else f"target {self.target}"
        return f"{self.name:<48} {self.shown():>12}   {target:<16} {verdict}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def at_most(name: str, value: float, limit: float, unit: str = "") -> Figure:
    return Figure(name, value, f"<= {limit:g} {unit}".strip(), value <= limit, unit)


def at_least(name: str, value: float, floor: float, unit: str = "") -> Figure:
    return Figure(name, value, f">= {floor:g} {unit}".strip(), value >= floor, unit)


def info(name: str, value: float | int | str, unit: str = "") -> Figure:
    """A figure worth reading that has no target of its own (e.g. how many trials ran)."""
    return Figure(name, value, "info", True, unit)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario: its name, what it shows, and how to run it at a size."""

    name: str
    title: str
    run: Callable[[bool], list[Figure]]  # run(full) -> figures
    short: str  # the short size, as people read it
    full: str  # the full size
    about: str = ""  # how it works, for the page of figures
