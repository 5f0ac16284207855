"""The kit is a black-box tester: it may speak the protocol, never reach into an implementation.

import-linter's contracts cover only the root packages, so this test keeps the rule for
``doorstep.conformance`` (it imports ``protocol`` and, for file locations only,
``firmware_config``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import doorstep.conformance

FORBIDDEN = ("edge", "hub", "hardware", "mobile_api", "tests")


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_kit_imports_no_device_or_hub_internals():
    folder = Path(doorstep.conformance.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) >= 5
    offending = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imported(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert offending == set()
