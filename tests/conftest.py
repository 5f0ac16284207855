"""Shared fixtures: private Mosquitto brokers, databases, headless Chromium."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.tls_broker",
    "tests.fixtures.database",
    "tests.fixtures.chromium",
]
