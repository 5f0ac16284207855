"""The conformance report: one result per check, as text for people or JSON for tools.

>>> report = Report(device="door-1a2b3c", broker="hub.local:8883")
>>> report.add("presence.online", Status.PASS, "retained status says online")
>>> print(render_text(report))                                    # doctest: +SKIP
PASS         presence.online          retained status says online
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from protocol.base import utcnow


class Status(StrEnum):
    """The verdict of one check."""

    PASS = "PASS"
    FAIL = "FAIL"
    NOT_CHECKED = "NOT CHECKED"


class CheckResult(BaseModel):
    """One line of the report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Stable dotted name, e.g. 'command.replay'.")
    status: Status
    reason: str = Field(description="Why it passed, failed or was not checked.")


class Report(BaseModel):
    """Everything one run of the kit found out about one device."""

    model_config = ConfigDict(extra="forbid")

    device: str
    broker: str
    started_at: datetime = Field(default_factory=utcnow)
    checks: list[CheckResult] = Field(default_factory=list)

    def add(self, name: str, status: Status, reason: str) -> CheckResult:
        result = CheckResult(name=name, status=status, reason=reason)
        self.checks.append(result)
        return result

    def extend(self, results: list[CheckResult]) -> None:
        self.checks.extend(results)

    @property
    def passed(self) -> bool:
        """True when no check failed (NOT CHECKED does not fail a device)."""
        return all(c.status is not Status.FAIL for c in self.checks)

    def by_name(self) -> dict[str, CheckResult]:
        return {c.name: c for c in self.checks}

    def counts(self) -> dict[str, int]:
        return {s.value: sum(c.status is s for c in self.checks) for s in Status}


def render_text(report: Report) -> str:
    """One line per check, then a summary line."""
    width = max((len(c.name) for c in report.checks), default=10) + 2
    lines = [f"Doorstep protocol conformance: device {report.device} at {report.broker}"]
    for c in report.checks:
        lines.append(f"{c.status.value:<12} {c.name:<{width}} {c.reason}")
    counts = report.counts()
    verdict = "CONFORMS" if report.passed else "DOES NOT CONFORM"
    lines.append(
        f"{verdict}: {counts['PASS']} passed, {counts['FAIL']} failed, "
        f"{counts['NOT CHECKED']} not checked"
    )
    return "\n".join(lines)


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2)
