"""Errors of the edge agent."""

from __future__ import annotations


class EdgeError(Exception):
    """Root of every error the edge agent raises."""


class OutboxError(EdgeError, RuntimeError):
    """The local outbox database could not be used."""
