"""Shared fixtures: a private Mosquitto per test session, MQTT clients, keys."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures.broker"]
