"""Errors of the configuration and provisioning package."""

from __future__ import annotations


class ConfigError(Exception):
    """Root of every error firmware_config raises."""


class BrokerError(ConfigError, RuntimeError):
    """A private Mosquitto could not be configured or started."""
