"""Shared fixtures: private Mosquitto brokers (plain and mutual-TLS), databases."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.tls_broker",
    "tests.fixtures.database",
]
